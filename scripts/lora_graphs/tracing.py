"""Tracing (make_fx, approach 1 of export-recipe.md) and ONNX export with contract names."""
import collections
import contextlib
import hashlib
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
from torch.fx.experimental.proxy_tensor import make_fx

OPSET = 20
_STARTED = time.time()


def progress(message):
    """A progress line on stderr, stamped with the seconds since the exporter started: a real-size
    export spends minutes in each phase."""
    print(f"[export {time.time() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def digest(array):
    """The key of a tensor's bytes (C order): hashed in place, so multi-GB weights are not copied.
    SHA-256 (1.8 GB/s with the CPU's SHA instructions, blake2b 0.6 GB/s): hashing was 124 of 699
    sampled seconds of a Qwen2-VL-2B export with blake2b."""
    return hashlib.sha256(np.ascontiguousarray(array).data).digest()


def decompositions():
    """REQUIRED (export-recipe.md): decompose every *backward* op (silu_backward has no ONNX
    translation) and nll_loss_forward (torchlib fakes total_weight = 1, so every gradient would be
    N times too large while the loss stays exact)."""
    from torch._decomp import decomposition_table
    aten = torch.ops.aten
    table = {op: fn for op, fn in decomposition_table.items() if "backward" in str(op)}
    table[aten.nll_loss_forward.default] = decomposition_table[aten.nll_loss_forward.default]
    return table


class Program:
    """What one graph computes: named batch inputs, named parameter inputs (LoRA, trainables, scalars),
    and which parameter inputs are differentiated. `module` is the LossModule or InferModule."""

    def __init__(self, module, frozen, batch_names, param_keys, param_names, diff, mode, output_names, extra=None,
                 fp16=False):
        self.module, self.frozen = module, frozen
        self.batch_names, self.param_keys, self.param_names = batch_names, param_keys, param_names
        self.diff, self.mode, self.output_names = diff, mode, output_names
        self.extra = extra  # () -> tensors appended to the outputs (train_rwp: the noise of each layer)
        # mixed precision: the forward under fp16 autocast (as torch.autocast does it: matmuls in fp16,
        # softmax/norms/loss in fp32), with a last input loss_scale: the gradients are those of
        # loss * loss_scale (the caller unscales in fp32); LoRA inputs and gradients stay fp32
        self.fp16 = fp16

    @property
    def input_names(self):
        return list(self.batch_names) + list(self.param_names)

    def fn(self):
        nf, nb = len(self.frozen), len(self.batch_names)
        frozen_names = list(self.frozen.keys())

        def f(*flat):
            state = dict(zip(frozen_names, flat[:nf]))
            batch = dict(zip(self.batch_names, flat[nf:nf + nb]))
            params = list(flat[nf + nb:])
            loss_scale = params.pop() if self.fp16 else None
            state.update(zip(self.param_keys, params))
            if self.mode == "infer":
                with torch.no_grad():
                    return tuple(torch.func.functional_call(self.module, state, args=(), kwargs=batch))
            with torch.enable_grad():
                if self.fp16:
                    device = flat[0].device.type
                    with torch.autocast(device_type=device, dtype=torch.float16):
                        loss = torch.func.functional_call(self.module, state, args=(), kwargs=batch)
                    loss = loss.float()
                    grads = torch.autograd.grad(loss * loss_scale, [params[i] for i in self.diff])
                else:
                    loss = torch.func.functional_call(self.module, state, args=(), kwargs=batch)
                    grads = torch.autograd.grad(loss, [params[i] for i in self.diff])
            extra = tuple(self.extra()) if self.extra else ()
            return (loss.detach(),) + tuple(grads) + extra

        return f

    def prepare(self, params):
        return [p.detach().clone().requires_grad_(i in self.diff) for i, p in enumerate(params)]

    def eager(self, batch, params, device=None):
        frozen, batch = self.frozen.values(), batch.values()
        if device is not None:
            frozen = [v.to(device) for v in frozen]
            batch = [v.to(device) for v in batch]
            params = [p.to(device) for p in params]
        outs = self.fn()(*frozen, *batch, *self.prepare(params))
        return [o.detach().cpu() for o in outs]


class _Holder(nn.Module):
    """Holds the traced graph and the frozen weights as buffers (-> ONNX initializers)."""

    def setup(self, gm, frozen):
        self.gm = gm
        self._names = []
        for i, (n, v) in enumerate(frozen.items()):
            bn = "w%04d" % i
            self.register_buffer(bn, v.detach().clone())
            self._names.append(bn)

    def core(self, *args):
        return self.gm(*[getattr(self, n) for n in self._names], *args)


@contextlib.contextmanager
def single_output_rewrite_rules():
    """torch.onnx.export(optimize=True) runs onnxscript's default rewrite rules. One of them
    (SlicesSplit: two Slices of one tensor -> Split) has two output nodes, and onnxscript matches such a
    pattern by walking every node of the graph for each candidate node: quadratic. At Qwen2-VL-2B's
    14,764-op train graph that matching was 1,089 of 1,479 sampled seconds and still running. Inside
    this block the optimizer runs without those rules; every other rule and pass is unchanged."""
    from onnxscript import rewriter
    rules = rewriter._DEFAULT_REWRITE_RULES  # what onnxscript.optimizer.optimize_ir reads when it runs
    rewriter._DEFAULT_REWRITE_RULES = tuple(r for r in rules if r._target_pattern.has_single_output_node)
    try:
        yield
    finally:
        rewriter._DEFAULT_REWRITE_RULES = rules


def export(program, trace_batch, trace_params, dyn_dims, label):
    """Traces `program` at the trace shapes and returns the ONNX model (in memory: the caller saves it
    after moving the base weights out, so graphs of models over protobuf's 2 GB can be written) whose
    inputs and outputs carry the contract names. dyn_dims: {input name: [dim indices that are symbolic]}."""
    from torch.export import Dim

    gm = make_fx(program.fn(), decomposition_table=decompositions(), tracing_mode="symbolic",
                 _allow_non_fake_inputs=True)(*program.frozen.values(), *trace_batch.values(),
                                              *program.prepare(trace_params))
    progress(f"{label}: traced, {len(gm.graph.nodes)} aten nodes")
    idents = ["a%d" % i for i in range(len(program.input_names))]
    src = "def forward(self, %s):\n    return self.core(%s)\n" % (", ".join(idents), ", ".join(idents))
    ns = {}
    exec(src, ns)  # an explicit signature: torch.export names dynamic shapes by argument
    holder = type("ExportHolder", (_Holder,), {"forward": ns["forward"]})()
    holder.setup(gm, program.frozen)
    dynamic = {a: ({d: Dim.AUTO for d in dyn_dims.get(n, [])} or None) for a, n in zip(idents, program.input_names)}
    args = tuple(list(trace_batch.values()) + [p.detach() for p in trace_params])
    with warnings.catch_warnings(), single_output_rewrite_rules():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(holder, args, dynamo=True, optimize=True, opset_version=OPSET,
                                 dynamic_shapes=dynamic, input_names=program.input_names,
                                 output_names=program.output_names)
    model = prog.model_proto
    progress(f"{label}: converted to ONNX, {len(model.graph.node)} nodes")
    return model


def rename_dims(model, spec):
    """Gives the symbolic dims of graph inputs their contract names (batch, seq, lora_r, ...) and
    carries the renaming through outputs and value_info. spec: {input name: [dim name or int]}.
    A symbol that would get two names means torch unified two dims: that is an export bug."""
    mapping = {}
    for vi in model.graph.input:
        names = spec.get(vi.name)
        if names is None:
            continue
        for d, want in zip(vi.type.tensor_type.shape.dim, names):
            if d.dim_param and isinstance(want, str):
                if mapping.get(d.dim_param, want) != want:
                    raise RuntimeError(f"input {vi.name}: symbol {d.dim_param} is both {mapping[d.dim_param]} and {want}")
                mapping[d.dim_param] = want
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in mapping:
                d.dim_param = mapping[d.dim_param]
    return mapping


def rename_initializers(model, by_digest):
    """Renames every float initializer whose bytes equal a named tensor (or its transpose) to that
    tensor's name (`<name>` or `<name>.T`), so graphs say which base weight each initializer is.
    by_digest: {digest(tensor): name}. Returns {new name: (source name, transposed)}."""
    from onnx import numpy_helper
    renamed, used = {}, set()
    rename = {}
    for t in model.graph.initializer:
        if t.data_location == 1 or t.data_type != 1:
            continue
        arr = numpy_helper.to_array(t)
        if arr.size < 2:
            continue
        hit = by_digest.get(digest(arr))
        transposed = False
        if hit is None and arr.ndim == 2:
            hit = by_digest.get(digest(arr.T))
            transposed = hit is not None
        if hit is None:
            continue
        new = hit + (".T" if transposed else "")
        k = 1
        while new in used:
            k += 1
            new = f"{hit}{'.T' if transposed else ''}#{k}"
        used.add(new)
        rename[t.name] = new
        renamed[new] = (hit, transposed)
    for t in model.graph.initializer:
        if t.name in rename:
            t.name = rename[t.name]
    for node in model.graph.node:
        for i, n in enumerate(node.input):
            if n in rename:
                node.input[i] = rename[n]
    return renamed


def untranspose_weights(model, renamed):
    """Keeps each frozen weight once. Constant folding stores W.T beside W (forward x @ W.T, backward
    g @ W), which doubles the base weights in the file and in ONNX Runtime's memory. Consumers of W.T
    read W instead where ONNX can say "transposed": Gemm through transB, a MatMul with a 2-D left
    operand by becoming such a Gemm, a Cast by casting W (its consumers then handled the same way), a
    Transpose by being W itself. W.T stays only for consumers that cannot (N-D MatMul).
    renamed: rename_initializers' result, updated in place. Returns how many W.T initializers remain."""
    from onnx import helper, numpy_helper
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    rank = {v.name: len(v.type.tensor_type.shape.dim) for v in list(g.value_info) + list(g.input)
            if v.type.tensor_type.HasField("shape")}
    consumers = collections.defaultdict(list)
    for node in g.node:
        for i, x in enumerate(node.input):
            consumers[x].append((node, i))
    dead, fresh = set(), []

    def source(name):  # W for a W.T initializer, made an initializer if the graph lacks it
        src = renamed[name][0]
        if src not in inits:
            t = numpy_helper.from_array(numpy_helper.to_array(inits[name]).T.copy(), src)
            g.initializer.append(t)
            inits[src] = t
            renamed[src] = (src, False)
        return src

    def rewire(value, untransposed):  # value == untransposed.T; returns whether value lost all readers
        kept = 0
        for node, i in consumers[value]:
            attrs = {a.name: a for a in node.attribute}
            if node.op_type == "Gemm" and i == 1:
                t = attrs.get("transB")
                if t is None:
                    node.attribute.append(helper.make_attribute("transB", 1))
                else:
                    t.i = 1 - t.i
                node.input[1] = untransposed()
            elif node.op_type == "MatMul" and i == 1 and rank.get(node.input[0]) == 2:
                node.op_type = "Gemm"
                node.attribute.append(helper.make_attribute("transB", 1))
                node.input[1] = untransposed()
            elif node.op_type == "Transpose" and list(attrs["perm"].ints if "perm" in attrs else [1, 0]) == [1, 0]:
                w = untransposed()
                for c, j in consumers[node.output[0]]:
                    c.input[j] = w
                if any(o.name == node.output[0] for o in g.output):
                    kept += 1  # a graph output keeps its producer
                else:
                    dead.add(id(node))
            elif node.op_type == "Cast":
                made = []

                def cast_of_w(node=node, made=made):
                    if not made:
                        out = node.output[0] + "_of_untransposed"
                        fresh.append(helper.make_node("Cast", [untransposed()], [out], to=node.attribute[0].i))
                        made.append(out)
                    return made[0]

                if rewire(node.output[0], cast_of_w):
                    dead.add(id(node))
                else:
                    kept += 1
            else:
                kept += 1
        return kept == 0

    for name in [n for n, (src, tr) in renamed.items() if tr and n in inits]:
        if rewire(name, lambda name=name: source(name)):
            g.initializer.remove(inits.pop(name))
            del renamed[name]
    keep = [n for n in g.node if id(n) not in dead]
    del g.node[:]
    g.node.extend(fresh + keep)
    return sum(1 for n, (src, tr) in renamed.items() if tr)


def op_domains(model):
    c = collections.Counter()

    def walk(g):
        for n in g.node:
            c[n.domain or "ai.onnx"] += 1
            for a in n.attribute:
                if a.g is not None and a.g.node:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model.graph)
    return dict(c), len(model.functions)
