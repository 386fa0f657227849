"""Rewrites of exported graphs that keep every output exact and need only the onnx package, so they also
upgrade model directories exported before them:
    python3 scripts/lora_graphs/graph_rewrites.py MODEL_DIR...
rewrites MODEL_DIR's graphs in place and records the counts in its manifest's checks, as the exporter
does."""
import json
import os
import sys

import numpy as np
from onnx import helper, numpy_helper


def slice_scatters_as_pads(model):
    """A slice's gradient, scattered into zeros, as one zero Pad. torchlib writes aten.slice_scatter into
    zeros (how torch's slice_backward decomposes) as Transpose(zeros) -> ScatterND(Range indices) <-
    Transpose(src): that is Transpose(Pad(src)), and Pad(src) alone where it is transposed straight back
    (the usual case). Qwen2-VL has four per decoder layer (rotate_half of its rotary embedding, queries
    and keys), and the CUDA EP's ScatterND copies each index's whole slice in one GPU thread: on an 8 +
    8-layer model of Qwen2-VL-2B's widths this took the LoRA step from 211.20 to 86.75 ms (BENCHMARKS.md,
    run N). Matches only that exact pattern with static sizes along the axis (from value_info) and
    leaves anything else alone. Returns how many were rewritten."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    inits = {t.name: t for t in g.initializer}
    dims = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output) if v.type.tensor_type.HasField("shape")}
    graph_outputs = {o.name for o in g.output}

    def const(name):  # the value of an initializer or Constant node, else None
        if name in inits:
            return numpy_helper.to_array(inits[name])
        p = producer.get(name)
        if p is not None and p.op_type == "Constant" and p.attribute and p.attribute[0].name == "value":
            return numpy_helper.to_array(p.attribute[0].t)
        return None

    def made_by(name, op):
        p = producer.get(name)
        return p if p is not None and p.op_type == op else None

    def perm(node):  # None when absent (reversed axes): not the pattern
        return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)

    def is_zero_fill(node):  # ConstantOfShape whose value is 0 (also when the attribute is absent)
        for a in node.attribute:
            if a.name == "value" and np.any(numpy_helper.to_array(a.t) != 0):
                return False
        return True

    def pads_of(scatter):
        """(src, pads, perm) for a match, else None: the scatter equals Transpose(Pad(src, pads), perm)."""
        if any(a.name == "reduction" and a.s not in (b"", b"none") for a in scatter.attribute):
            return None
        ops = ("Transpose", "Unsqueeze", "Transpose")
        zeros_t, index, updates_t = (made_by(x, op) for x, op in zip(scatter.input, ops))
        if None in (zeros_t, index, updates_t):
            return None
        p = perm(zeros_t)
        if p is None or perm(updates_t) != p:
            return None
        zeros = made_by(zeros_t.input[0], "ConstantOfShape")
        picked = made_by(index.input[0], "Slice")
        if zeros is None or not is_zero_fill(zeros) or picked is None:
            return None
        unsqueeze_axes = const(index.input[1]) if len(index.input) > 1 else None
        if unsqueeze_axes is None or unsqueeze_axes.ravel().tolist() not in ([-1], [1]):
            return None
        every = made_by(picked.input[0], "Range")
        if every is None or len(picked.input) < 5:
            return None
        start, delta = const(every.input[0]), const(every.input[2])
        first, axes, steps = (const(x) for x in (picked.input[1], picked.input[3], picked.input[4]))
        if any(v is None for v in (start, delta, first, axes, steps)) or start.item() != 0 or delta.item() != 1:
            return None
        if axes.ravel().tolist() != [0] or steps.ravel().tolist() != [1] or first.item() < 0:
            return None
        # indices first, first + 1, ...: as many as src has along the axis (ScatterND's shape rule)
        src = updates_t.input[0]
        axis = p[0]
        zero_dims, src_dims = dims.get(zeros.output[0]), dims.get(src)
        if zero_dims is None or src_dims is None or len(zero_dims) != len(src_dims):
            return None
        size, length = zero_dims[axis], src_dims[axis]
        if size is None or length is None or size - first.item() - length < 0:
            return None
        pads = [0] * (2 * len(src_dims))
        pads[axis], pads[len(src_dims) + axis] = int(first.item()), size - int(first.item()) - length
        return src, pads, p

    replaced = {}  # id(node) -> the nodes in its place; each reads only values made before it
    for scatter in [n for n in g.node if n.op_type == "ScatterND"]:
        found = pads_of(scatter)
        if found is None:
            continue
        src, pads, p = found
        out = scatter.output[0]
        users = consumers.get(out, [])
        back = users[0] if len(users) == 1 and users[0].op_type == "Transpose" else None
        if back is not None and out not in graph_outputs and perm(back) is not None \
                and [p[i] for i in perm(back)] == list(range(len(p))):
            # the usual case: transposed back at once, so Pad(src) is that Transpose's value
            pads_name = back.output[0] + "_pads"
            pad = helper.make_node("Pad", [src, pads_name], [back.output[0]], name=back.name + "_as_pad")
            replaced[id(back)] = [pad]
        else:  # read in the transposed layout (an Add of two, say): keep that layout, minus the scatter
            pads_name = out + "_pads"
            pad = helper.make_node("Pad", [src, pads_name], [out + "_padded"], name=scatter.name + "_as_pad")
            turn = helper.make_node("Transpose", [out + "_padded"], [out], name=scatter.name + "_turned", perm=p)
            replaced[id(scatter)] = [pad, turn]
        g.initializer.append(numpy_helper.from_array(np.array(pads, dtype=np.int64), pads_name))
    if replaced:
        nodes = [m for n in g.node for m in replaced.get(id(n), [n])]
        del g.node[:]
        g.node.extend(nodes)
        remove_dead_nodes(g)
    return len(replaced)


def remove_dead_nodes(g):
    """Drops nodes none of whose outputs is read (by a node or as a graph output), and initializers no
    node reads, until none is left."""
    outputs = {o.name for o in g.output}
    while True:
        read = {x for n in g.node for x in n.input} | outputs
        keep = [n for n in g.node if any(o in read for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    read = {x for n in g.node for x in n.input} | outputs
    unused = [t for t in g.initializer if t.name not in read]
    for t in unused:
        g.initializer.remove(t)


def upgrade(model_dir):
    """Applies the rewrites to a model directory's graphs in place (each file replaced whole, the manifest
    last) and records them in the manifest's checks where the exporter puts them. Returns {file: count}."""
    import onnx
    manifest_path = os.path.join(model_dir, "manifest.json")
    with open(manifest_path) as f:
        text = f.read()
    manifest = json.loads(text)
    checks = manifest["checks"]
    counts = {}
    for role, name in manifest["graphs"].items():
        path = os.path.join(model_dir, name)
        model = onnx.load(path, load_external_data=False)
        counts[name] = slice_scatters_as_pads(model)
        if counts[name]:
            onnx.save(model, path + ".tmp")
            os.replace(path + ".tmp", path)
        key = f"{role}_slice_scatters_as_pads"
        total = counts[name] + checks.get(key, 0)
        after = f"{role}_transposed_weight_copies"  # the exporter writes the count right after this one
        items = [(k, v) for k, v in checks.items() if k != key]
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == after), len(items))
        checks = dict(items[:at] + [(key, total)] + items[at:])
        if f"{role}_ops" in checks:
            checks[f"{role}_ops"]["nodes"] = len(model.graph.node)
    manifest["checks"] = checks
    with open(manifest_path + ".tmp", "w") as f:
        f.write(json.dumps(manifest, indent=1) + ("\n" if text.endswith("\n") else ""))
    os.replace(manifest_path + ".tmp", manifest_path)
    return counts


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for d in sys.argv[1:]:
        print(d, upgrade(d))
