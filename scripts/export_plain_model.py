#!/usr/bin/env python3
"""Writes a plain inference ONNX model (no LoRA inputs, no gradients): what a user exports with
torch.onnx and hands to `lora-trainer prepare`. The weights are built exactly as
export_lora_graph.py builds them (same family, config and seed), so `prepare` on this file and the
exporter's model directory can be compared on the same tensors.

  python3 scripts/export_plain_model.py --family roberta --exporter dynamo --out model.onnx
  python3 scripts/export_plain_model.py --family bert --exporter torchscript --opset 14 --out model_ts.onnx

--compare DIR checks the built weights against DIR/infer.onnx (the exporter's directory of the same
model): every Hugging Face tensor found there by name must be equal. Every export is checked:
ONNX Runtime (CPU) against eager PyTorch on every output, at a batch and sequence length other than
the traced ones. Needs torch, transformers, onnx, onnxruntime (and onnxscript for dynamo).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TRANSFORMERS_DISABLE_TORCH_CHECK", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from export_lora_graph import load_config, make_unique  # noqa: E402
from lora_graphs import checks  # noqa: E402
from lora_graphs.families import FAMILIES  # noqa: E402


class Plain(nn.Module):
    """The family's inference forward (what infer.onnx computes, without LoRA) over positional inputs.
    The model's children, parameters and buffers are registered here under their own names, so the
    exported initializers carry the model's state_dict names (roberta.encoder..., classifier...), as
    torch.onnx.export(model) gives them."""

    def __init__(self, family, model, names):
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        for name, p in model.named_parameters(recurse=False):
            self.register_parameter(name, p)
        for name, b in model.named_buffers(recurse=False):
            self.register_buffer(name, b)
        self.family, self.names = family, names
        self._model = [model]  # a list: not registered a second time under another prefix

    def run(self, *inputs):
        return tuple(self.family.infer(self._model[0], dict(zip(self.names, inputs))).values())


def plain(family, model, names):
    """A Plain module whose forward has one named argument per input: torch.export names dynamic
    shapes by argument (the exporter's tracing.export does the same)."""
    src = "def forward(self, %s):\n    return self.run(%s)\n" % (", ".join(names), ", ".join(names))
    ns = {}
    exec(src, ns)
    return type("PlainModel", (Plain,), {"forward": ns["forward"]})(family, model, names)


def build(family, config, seed, num_labels):
    torch.manual_seed(seed)
    cfg = load_config(family, config)
    if num_labels:
        cfg.num_labels = num_labels
    fam = FAMILIES[family](cfg)
    model = fam.build()
    make_unique(model, seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return fam, model


def compare_weights(model, infer_path):
    """Max |difference| between the model's tensors and infer.onnx's initializers of the same name."""
    import onnx
    from onnx import numpy_helper
    inits = {t.name: t for t in onnx.load(infer_path, load_external_data=False).graph.initializer}
    worst, matched = 0.0, 0
    for name, t in model.state_dict().items():
        if name in inits and inits[name].data_location != onnx.TensorProto.EXTERNAL:
            worst = max(worst, float(np.abs(numpy_helper.to_array(inits[name]) - t.numpy()).max()))
            matched += 1
    if matched == 0:
        raise checks.CheckFailed(f"{infer_path}: no initializer is named after a tensor of the model")
    return dict(matched=matched, max_abs_diff=worst)


def export(wrapper, batch, names, dims, outs, exporter, opset, path, external):
    args = tuple(batch[n] for n in names)
    if exporter == "dynamo":
        from torch.export import Dim
        dynamic = {n: ({i: Dim.AUTO for i, d in enumerate(dims[n]) if isinstance(d, str)} or None) for n in names}
        prog = torch.onnx.export(wrapper, args, dynamo=True, optimize=True, opset_version=opset,
                                 input_names=names, output_names=outs, dynamic_shapes=dynamic)
        prog.save(path, external_data=external)
    else:
        axes = {n: {i: d for i, d in enumerate(dims[n]) if isinstance(d, str)} for n in names}
        torch.onnx.export(wrapper, args, path, dynamo=False, opset_version=opset, input_names=names,
                          output_names=outs, dynamic_axes=axes, do_constant_folding=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--config", default="tiny", help="'tiny' or a Hugging Face model/config directory")
    ap.add_argument("--num-labels", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--compare", help="the exporter's model directory of the same model (checks the weights)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    t0 = time.time()
    fam, model = build(a.family, a.config, a.seed, a.num_labels)
    report = dict(family=a.family, config=a.config, exporter=a.exporter, opset=a.opset, torch=torch.__version__)
    if a.compare:
        report["weights_vs_" + os.path.basename(os.path.normpath(a.compare))] = compare_weights(
            model, os.path.join(a.compare, "infer.onnx"))
    trace_b, dims = fam.batch(model, 5, 13, 1)
    test_b, _ = fam.batch(model, 3, 21 if a.family != "qwen2vl" else 25, 2)
    names = fam.infer_inputs(list(trace_b.keys()))
    with torch.no_grad():
        outs = list(fam.infer(model, {n: trace_b[n] for n in names}).keys())
        ref = list(fam.infer(model, {n: test_b[n] for n in names}).values())
    wrapper = plain(fam, model, names)
    with torch.no_grad():
        # real-size models keep their weights beside the graph (<out>.data): protobuf stops at 2 GB
        export(wrapper, trace_b, names, dims, outs, a.exporter, a.opset, a.out, a.config != "tiny")
    sess = checks.ort_session(a.out)
    got = checks.run(sess, {n: test_b[n].numpy() for n in names})
    report["ort_vs_torch"] = checks.require(checks.compare(outs, got, ref), a.out)
    import onnx
    m = onnx.load(a.out, load_external_data=False)
    init_names = {t.name for t in m.graph.initializer}
    report.update(inputs=names, outputs=outs, nodes=len(m.graph.node),
                  state_dict_names_kept=sum(1 for k in model.state_dict() if k in init_names),
                  ops=sorted({n.op_type for n in m.graph.node}),
                  opset_import={o.domain or "ai.onnx": o.version for o in m.opset_import},
                  seconds=round(time.time() - t0, 1))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
