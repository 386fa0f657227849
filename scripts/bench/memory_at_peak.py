#!/usr/bin/env python3
"""What holds the GPU memory at the peak of a training step, from `bench --ort-profile DIR`.

ONNX Runtime's profile records, after every node, the bytes its arena holds and has in use, and each
node's output shapes; the optimized graph saved beside it (same node names) says which node reads
which tensor. From the two: the step's peak in-use bytes, and the node outputs alive at that peak
(produced before it, read at or after it; a view such as Reshape counted as the buffer it shares), split into the forward's saved activations (ancestors of
the loss) and the backward's temporaries, by the op that produced them.
Standard library only (the ONNX file is read with a minimal protobuf reader).

  python3 scripts/bench/memory_at_peak.py DIR/lora-round0_<timestamp>.json DIR/lora-round0.train_fused.onnx
"""
import collections
import json
import sys

MIB = 2 ** 20
BYTES = {"float": 4, "float16": 2, "bfloat16": 2, "double": 8, "int64": 8, "int32": 4, "int8": 1,
         "uint8": 1, "bool": 1}
VIEWS = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"}


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _fields(b):
    i = 0
    while i < len(b):
        k, i = _varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        elif w == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError(f"wire type {w}")
        yield f, v


def read_graph(path):
    """(nodes as (name, op_type, inputs, outputs), graph output names) of an ONNX model file."""
    model = open(path, "rb").read()
    graph = next(v for f, v in _fields(model) if f == 7)  # ModelProto.graph
    nodes, outputs = [], []
    for f, v in _fields(graph):
        if f == 1:  # NodeProto: input 1, output 2, name 3, op_type 4
            ins, outs, name, op = [], [], "", ""
            for g, x in _fields(v):
                if g == 1:
                    ins.append(x.decode())
                elif g == 2:
                    outs.append(x.decode())
                elif g == 3:
                    name = x.decode()
                elif g == 4:
                    op = x.decode()
            nodes.append((name, op, ins, outs))
        elif f == 12:  # ValueInfoProto.name
            outputs.append(next(x for g, x in _fields(v) if g == 1).decode())
    return nodes, outputs


def main(profile, model):
    events = json.load(open(profile))
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    last = runs[-1]  # the last run: the arena has grown to what the step needs
    run = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
           and last["ts"] <= e["ts"] <= last["ts"] + last["dur"]]
    in_use = [int(e["args"]["mem_bytes_in_use"]) for e in run]
    held = int(run[-1]["args"]["mem_arena_held"])
    nodes, graph_outputs = read_graph(model)
    by_name = {n[0]: n for n in nodes}
    order = [e["name"][: -len("_kernel_time")] for e in run]
    missing = [n for n in order if n not in by_name]
    if missing:
        sys.exit(f"{model}: {len(missing)} profiled nodes are not in this graph (e.g. {missing[0]}):"
                 " pass the optimized graph saved beside the profile")
    position = {n: i for i, n in enumerate(order)}
    size, producer = {}, {}
    for e, name in zip(run, order):
        for out, shape in zip(by_name[name][3], e["args"].get("output_type_shape", [])):
            (dtype, dims), = shape.items()
            count = 1
            for d in dims:
                count *= d
            size[out] = count * BYTES.get(dtype, 4)
            producer[out] = by_name[name]
    last_read = {}
    for name in order:
        for x in by_name[name][2]:
            last_read[x] = max(last_read.get(x, -1), position[name])
    # the forward: every node the loss depends on
    made_by = {o: n for n in nodes for o in n[3]}
    forward, todo = set(), ["loss"]
    while todo:
        n = made_by.get(todo.pop())
        if n is not None and n[0] not in forward:
            forward.add(n[0])
            todo.extend(n[2])
    # a view (Reshape and its kin) shares its input's buffer: a live view keeps its root alive
    root = {}
    for name in order:
        _, op, ins, node_outs = by_name[name]
        if op in VIEWS and ins:
            root[node_outs[0]] = root.get(ins[0], ins[0])
    outs = set(graph_outputs)
    # a buffer lives from its producer to the last read of it or of any view of it
    span = {}
    for t in size:
        r = root.get(t, t)
        if r not in size:
            continue  # a view of a weight or an input: no buffer of its own
        end = len(order) if t in outs else last_read.get(t, -1)
        lo, hi = span.get(r, (position[producer[r][0]], -1))
        span[r] = (lo, max(hi, end))
    delta = [0] * (len(order) + 2)
    for r, (lo, hi) in span.items():
        delta[lo] += size[r]
        delta[max(lo, hi) + 1] -= size[r]
    alive_bytes, running = [], 0
    for i in range(len(order)):
        running += delta[i]
        alive_bytes.append(running)
    # the buffers' own peak: on the CUDA EP it is the arena's (checked on roberta-large: both
    # 5,480 MiB after the same node); on the CPU EP the memory pattern allocates one block up front
    # and the arena's in-use bytes stay flat
    peak = max(range(len(order)), key=alive_bytes.__getitem__)
    live = [r for r, (lo, hi) in span.items() if lo <= peak <= max(lo, hi)]
    print(f"{profile}\n  {len(run)} nodes; the arena: {in_use[0] / MIB:.0f} MiB in use before the first node"
          f" (weights, bound inputs), {max(in_use) / MIB:.0f} MiB at most, {held / MIB:.0f} MiB held")
    groups = collections.Counter()
    for t in live:
        phase = "forward, saved" if producer[t][0] in forward else "backward"
        groups[(phase, producer[t][1])] += size[t]
    total = sum(groups.values())
    print(f"  node outputs alive at their peak (after node {peak}, {run[peak]['args']['op_name']}):"
          f" {total / MIB:.0f} MiB in {len(live)} buffers")
    for phase in ("forward, saved", "backward"):
        part = {op: b for (p, op), b in groups.items() if p == phase}
        print(f"    {phase}: {sum(part.values()) / MIB:.0f} MiB")
        for op, b in sorted(part.items(), key=lambda x: -x[1])[:10]:
            print(f"      {op:30s} {b / MIB:9.1f} MiB")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
