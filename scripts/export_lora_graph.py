#!/usr/bin/env python3
"""Writes a lora-graph/1 model directory (docs/graph-contract.md) for one model.

  python3 scripts/export_lora_graph.py --family roberta --config tiny --id tiny-roberta-cls --out onnx-models/tiny-roberta-cls
  python3 scripts/export_lora_graph.py --family gpt2 --config /path/to/gpt2-medium --weights pretrained --out /data/gpt2-medium

Needs torch, transformers, onnx, onnxscript, onnxruntime and safetensors. Every export is checked
before the directory is written: ONNX Runtime (CPU) against eager PyTorch on the loss and every
gradient at a batch, sequence length and rank other than the traced ones, and ai.onnx ops only.
See scripts/README.md.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TRANSFORMERS_DISABLE_TORCH_CHECK", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from lora_graphs import CONTRACT, checks, graph_rewrites, schema, tracing  # noqa: E402
from lora_graphs.tracing import progress  # noqa: E402
from lora_graphs.families import FAMILIES, tiny_config  # noqa: E402
from lora_graphs.lora import Shared, inject  # noqa: E402
from lora_graphs.targets import Targets  # noqa: E402

BASE_WEIGHTS_FILE = "base.weights"
ALIGN = 4096  # external data offsets on 4 KiB boundaries, so the file can be memory-mapped


class LossModule(nn.Module):
    def __init__(self, family, model, shared):
        super().__init__()
        self.family, self.m, self.shared = family, model, shared

    def forward(self, **batch):
        return self.family.loss(self.m, batch)


class InferModule(LossModule):
    def forward(self, **batch):
        return tuple(self.family.infer(self.m, batch).values())


def load_config(family, config):
    if config == "tiny":
        return tiny_config(family)
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(config)
    cfg._attn_implementation = "eager"  # sdpa/flash backward ops have no verified ONNX translation
    for sub in ("text_config", "vision_config"):
        if hasattr(cfg, sub):
            getattr(cfg, sub)._attn_implementation = "eager"
    return cfg


def make_unique(model, seed):
    """Random init leaves LayerNorm weights at 1 and biases at 0; perturb them so that every base
    tensor is unique and the exporter can tell initializers apart by value (rename_initializers)."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in model.named_parameters():
            # constant tensors only; one pass over p (torch.unique sorted 2.2 billion values at Qwen2-VL-2B)
            if p.dtype.is_floating_point and p.numel() > 1 and bool((p == p.reshape(-1)[0]).all()):
                p.add_(0.02 * torch.randn(p.shape, generator=g))


def load_langchain4j_bert(model, path):
    """Loads a BERT-family sentence-transformers ONNX export (langchain4j jars, Xenova conversions)
    into a *ForSequenceClassification model: named initializers map directly; anonymous MatMul
    weights ([in, out]) are named after the bias their MatMul's Add consumes (docs/assets.md)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    found = {k: v for k, v in inits.items() if not k.startswith("onnx::")}
    for n in m.graph.node:
        if n.op_type == "MatMul" and n.input[1] in inits and n.input[1].startswith("onnx::"):
            for add in consumers.get(n.output[0], []):
                bias = [i for i in add.input if i.endswith(".bias")] if add.op_type == "Add" else []
                if bias:
                    found[bias[0][:-len("bias")] + "weight"] = inits[n.input[1]].T
    prefix = model.base_model_prefix + "."
    state = model.state_dict()
    loaded = []
    for k, v in found.items():
        key = prefix + k
        if key in state:
            if tuple(state[key].shape) != v.shape:
                raise ValueError(f"{path}: {k} has shape {list(v.shape)}, model expects {list(state[key].shape)}")
            state[key] = torch.from_numpy(np.ascontiguousarray(v)).to(state[key].dtype)
            loaded.append(key)
    missing = [k for k in state if k.startswith(prefix + "embeddings.") or k.startswith(prefix + "encoder.")]
    missing = [k for k in missing if k not in loaded and not k.endswith("position_ids")]
    if missing:
        raise ValueError(f"{path}: no weights found for {missing[:5]} ({len(missing)} in all)")
    model.load_state_dict(state)
    return sorted(loaded)


def lora_params(model_modules, named_modules, trainables, params_of, rank, alpha, seed, sigma=None):
    """Parameter inputs in contract order: A, B per module; trainables; lora_scale; (rwp_sigma).
    A and B are seeded and non-zero so every gradient is exercised."""
    g = torch.Generator().manual_seed(seed)
    vals = []
    for p in model_modules:
        mod = named_modules[p]
        vals.append(torch.randn(rank, mod.in_features, generator=g) / math.sqrt(mod.in_features))
        vals.append(torch.randn(mod.out_features, rank, generator=g) * 0.05)
    vals += [params_of[t].detach().clone() for t in trainables]
    vals.append(torch.tensor(alpha / rank))
    if sigma is not None:
        vals.append(torch.tensor(float(sigma)))
    return vals


def to_numpy(t):
    return t.detach().cpu().numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--config", default="tiny", help="'tiny' or a Hugging Face model/config directory")
    ap.add_argument("--weights", default="random", help="random | pretrained (from --config's directory) | "
                    "langchain4j-onnx:PATH (BERT family)")
    ap.add_argument("--id", required=True, help="model id written to manifest.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--targets", help="LoRA targets as PEFT's target_modules: comma-separated module names or dotted "
                    "suffixes (attn.c_attn), or all-linear (family default otherwise)")
    ap.add_argument("--target-regex", help="instead of --targets: a regex the whole module name must match")
    ap.add_argument("--exclude-modules", help="comma-separated module names or suffixes to leave out (PEFT's exclude_modules)")
    ap.add_argument("--layers-to-transform", help="comma-separated layer indices to adapt (PEFT's layers_to_transform)")
    ap.add_argument("--layers-pattern", help="comma-separated names of the layer lists (PEFT's layers_pattern)")
    ap.add_argument("--rank", type=int, default=8, help="default rank written to the manifest (graphs take any)")
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--num-labels", type=int, help="classification heads: number of labels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--external-weights", action="store_true",
                    help=f"store base weights in {BASE_WEIGHTS_FILE} (needed over ~100 MB)")
    ap.add_argument("--keep-weights", action="store_true",
                    help=f"keep {BASE_WEIGHTS_FILE} (default: delete it when the weights are random: "
                         "a committed directory gets its weights from elsewhere)")
    ap.add_argument("--no-rwp", action="store_true", help="skip train_rwp.onnx")
    ap.add_argument("--fp16", action="store_true",
                    help="also write train_fp16.onnx: mixed precision (fp16 autocast) with a loss_scale input")
    ap.add_argument("--no-fixture", action="store_true")
    ap.add_argument("--check-atol", type=float, default=checks.ATOL,
                    help=f"absolute tolerance of the ORT-vs-torch checks (docs/graph-contract.md: {checks.ATOL}); fp32 "
                         "rounding grows with depth: gpt2-large's 36 layers differ by 4.5e-5 on gradients up to 1.2. "
                         "The manifest records the value used")
    ap.add_argument("--similarity-tokenizer", help="tokenizer.json: also report sentence similarities (BERT)")
    ap.add_argument("--base-weights-origin", help="JSON object for manifest base_weights.origin: where Java finds the "
                    "real weights (keys maven, entry, format, prefix)")
    ap.add_argument("--tokenizer", help="JSON object or file name for manifest tokenizer")
    a = ap.parse_args(argv)

    t_start = time.time()
    torch.manual_seed(a.seed)
    cfg = load_config(a.family, a.config)
    if a.num_labels:
        cfg.num_labels = a.num_labels
    fam = FAMILIES[a.family](cfg)
    if a.weights == "pretrained":
        model = type(fam.build()).from_pretrained(a.config, config=cfg)
        weights_desc = f"pretrained from {os.path.basename(os.path.normpath(a.config))}"
    else:
        model = fam.build()
        make_unique(model, a.seed)
        weights_desc = f"random-init, seed {a.seed}"
        if a.weights.startswith("langchain4j-onnx:"):
            loaded = load_langchain4j_bert(model, a.weights.split(":", 1)[1])
            weights_desc = f"{len(loaded)} tensors from {os.path.basename(a.weights)}; head and pooler random-init, seed {a.seed}"
        elif a.weights != "random":
            ap.error(f"--weights {a.weights!r}: expected random, pretrained or langchain4j-onnx:PATH")
    model.eval()
    progress(f"built {fam.hf_class} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters, {weights_desc})")
    for p in model.parameters():
        p.requires_grad_(False)

    TRACE_B, TRACE_S, TRACE_R = 5, 13, 7  # collide with no weight dim: torch unifies equal sizes
    TEST_B, TEST_S = 3, 21 if a.family != "qwen2vl" else 25
    shared = Shared()
    try:
        targets = Targets.parse(a.targets or ",".join(fam.targets), regex=a.target_regex, exclude=a.exclude_modules,
                                layers=a.layers_to_transform, layers_pattern=a.layers_pattern)
    except ValueError as e:
        ap.error(str(e))
    # all-linear leaves out the output embedding and the heads trained in full, as PEFT leaves its output layer
    heads, out_emb = set(fam.trainable(model)), model.get_output_embeddings()
    modules = inject(model, targets, fam.keep, TRACE_R, shared,
                     lambda path, m: m is out_emb or any(h.startswith(path + ".") for h in heads))
    named = dict(model.named_modules())
    params_of = dict(model.named_parameters())
    trainables = fam.trainable(model)
    loss_mod, infer_mod = LossModule(fam, model, shared), InferModule(fam, model, shared)

    lora_keys, lora_names = [], []
    for p in modules:
        lora_keys += [f"m.{p}.lora_A", f"m.{p}.lora_B"]
        lora_names += [f"{p}.lora_A.weight", f"{p}.lora_B.weight"]
    keys = lora_keys + [f"m.{t}" for t in trainables] + ["shared.lora_scale"]
    names = lora_names + list(trainables) + ["lora_scale"]
    diff = list(range(len(lora_keys) + len(trainables)))
    skip = set(keys) | {"shared.rwp_sigma"}
    frozen = {}
    for n, t in list(loss_mod.named_parameters()) + list(loss_mod.named_buffers()):
        if n not in skip:
            frozen[n] = t.detach()

    def hf_name(key):  # frozen key -> Hugging Face state_dict name
        n = key[2:]
        for p in modules:
            if n.startswith(p + ".base."):
                return p + "." + n[len(p) + 6:]
        return n

    by_digest = {}
    for k, v in frozen.items():
        if v.dtype == torch.float32 and v.numel() > 1:
            by_digest.setdefault(tracing.digest(to_numpy(v)), hf_name(k))
    progress(f"indexed {len(frozen)} frozen tensors ({sum(v.numel() for v in frozen.values()) / 1e6:.0f} M values)")

    trace_b, dims = fam.batch(model, TRACE_B, TRACE_S, 1)
    test_b, _ = fam.batch(model, TEST_B, TEST_S, 2)
    batch_names = list(trace_b.keys())
    infer_batch_names = fam.infer_inputs(batch_names)
    trace_p = lora_params(modules, named, trainables, params_of, TRACE_R, a.alpha, 10)
    test_p = lora_params(modules, named, trainables, params_of, a.rank, a.alpha, 20)
    grad_names = ["grad." + n for n in names[:len(diff)]]

    train = tracing.Program(loss_mod, frozen, batch_names, keys, names, diff, "train", ["loss"] + grad_names)
    with torch.no_grad():
        infer_outs = list(fam.infer(model, {k: test_b[k] for k in infer_batch_names}).keys())
    infer = tracing.Program(infer_mod, frozen, infer_batch_names, keys, names, [], "infer", infer_outs)
    def rwp_noises():  # in module order: forward order differs (CLIP and Qwen run the vision tower first)
        by_path = dict(shared.noises)
        shared.noises.clear()
        return [by_path[p] for p in modules]

    rwp = tracing.Program(loss_mod, frozen, batch_names, keys + ["shared.rwp_sigma"], names + ["rwp_sigma"],
                          diff, "train", ["loss"] + grad_names + [f"rwp_noise.{p}" for p in modules], extra=rwp_noises)

    train_fp16 = tracing.Program(loss_mod, frozen, batch_names, keys, names + ["loss_scale"], diff, "train",
                                 ["loss"] + grad_names, fp16=True)

    spec = dict(dims)
    for p in modules:
        spec[f"{p}.lora_A.weight"] = ["lora_r", named[p].in_features]
        spec[f"{p}.lora_B.weight"] = [named[p].out_features, "lora_r"]
    dyn = {n: [i for i, d in enumerate(v) if isinstance(d, str)] for n, v in spec.items()}

    work = tempfile.mkdtemp(prefix=a.id + "-")
    report = dict(trace=dict(batch=TRACE_B, seq=TRACE_S, rank=TRACE_R), check=dict(batch=TEST_B, seq=TEST_S, rank=a.rank))
    graphs = {"train": ("train.onnx", train, trace_b), "infer": ("infer.onnx", infer, {k: trace_b[k] for k in infer_batch_names})}
    if not a.no_rwp:
        graphs["train_rwp"] = ("train_rwp.onnx", rwp, trace_b)
    if a.fp16:
        graphs["train_fp16"] = ("train_fp16.onnx", train_fp16, trace_b)
    protos, renamed_all = {}, {}
    for kind, (fname, prog, tb) in graphs.items():
        t0 = time.time()
        tp = trace_p + ([torch.tensor(0.05)] if kind == "train_rwp" else [])
        tp = tp + ([torch.tensor(1024.0)] if kind == "train_fp16" else [])
        shared.rwp = kind == "train_rwp"
        try:
            model_proto = tracing.export(prog, tb, tp, dyn, fname)
        finally:
            shared.rwp = False
        tracing.rename_dims(model_proto, spec)
        renamed = tracing.rename_initializers(model_proto, by_digest)
        report[f"{kind}_transposed_weight_copies"] = tracing.untranspose_weights(model_proto, renamed)
        report[f"{kind}_slice_scatters_as_pads"] = graph_rewrites.slice_scatters_as_pads(model_proto)
        renamed_all[kind] = renamed
        if kind == "train_rwp":
            seeded = 0
            for node in model_proto.graph.node:
                if node.op_type in ("RandomNormalLike", "RandomNormal", "RandomUniformLike", "RandomUniform"):
                    import onnx
                    for at in list(node.attribute):
                        if at.name == "seed":
                            node.attribute.remove(at)
                    node.attribute.append(onnx.helper.make_attribute("seed", float(1000 + seeded)))
                    seeded += 1
            if seeded != len(modules):
                raise checks.CheckFailed(f"train_rwp.onnx: {seeded} random nodes for {len(modules)} adapted modules")
            report["rwp_random_nodes"] = seeded
        protos[kind] = model_proto
        report[f"{kind}_export_s"] = round(time.time() - t0, 1)
        report[f"{kind}_ops"] = checks.standard_ops_only(model_proto, fname)
        progress(f"{fname}: {report[f'{kind}_transposed_weight_copies']} transposed weight copies left")

    # base weights: inline (tiny) or in one external file shared by all graphs (real size)
    base_entries = {}
    if a.external_weights:
        from onnx import numpy_helper
        offset = 0
        with open(os.path.join(work, BASE_WEIGHTS_FILE), "wb") as fh:
            for kind, model_proto in protos.items():
                for t in model_proto.graph.initializer:
                    if t.name not in renamed_all[kind]:
                        continue
                    src, transposed = renamed_all[kind][t.name]
                    key = src + (".T" if transposed else "")
                    arr = numpy_helper.to_array(t)
                    if key not in base_entries:
                        offset = (offset + ALIGN - 1) // ALIGN * ALIGN
                        fh.seek(offset)
                        fh.write(arr.tobytes())
                        base_entries[key] = dict(name=key, source=src, transposed=transposed, dtype="float32",
                                                 shape=list(arr.shape), offset=offset, length=arr.nbytes)
                        offset += arr.nbytes
                    e = base_entries[key]
                    t.ClearField("raw_data")
                    t.ClearField("float_data")
                    t.data_location = 1  # EXTERNAL
                    del t.external_data[:]
                    for k, v in (("location", BASE_WEIGHTS_FILE), ("offset", str(e["offset"])), ("length", str(e["length"]))):
                        kv = t.external_data.add()
                        kv.key, kv.value = k, v
    import onnx
    for kind, model_proto in protos.items():
        onnx.save_model(model_proto, os.path.join(work, graphs[kind][0]))

    progress("graphs saved; checking ONNX Runtime (CPU) against torch")
    # checks: ORT (CPU) vs eager torch at the check shape and rank
    ref = train.eager(test_b, test_p)
    feed = {k: to_numpy(v) for k, v in test_b.items()}
    feed.update({n: to_numpy(v) for n, v in zip(names, test_p)})
    sess = checks.ort_session(os.path.join(work, "train.onnx"))
    got = checks.run(sess, feed)
    report["train_vs_torch"] = checks.require(checks.compare(train.output_names, got, ref, atol=a.check_atol), "train.onnx")
    ref_inf = infer.eager({k: test_b[k] for k in infer_batch_names}, test_p)
    got_inf = checks.run(checks.ort_session(os.path.join(work, "infer.onnx")), feed)
    report["infer_vs_torch"] = checks.require(checks.compare(infer_outs, got_inf, ref_inf, atol=a.check_atol), "infer.onnx")
    p1 = lora_params(modules, named, trainables, params_of, 1, a.alpha, 30)
    feed1 = dict(feed)
    feed1.update({n: to_numpy(v) for n, v in zip(names, p1)})
    report["train_vs_torch_rank1"] = checks.require(
        checks.compare(train.output_names, checks.run(sess, feed1), train.eager(test_b, p1), atol=a.check_atol),
        "train.onnx at rank 1")
    if "train_rwp" in graphs:
        path = os.path.join(work, "train_rwp.onnx")
        f0 = dict(feed, rwp_sigma=np.array(0.0, dtype=np.float32))
        report["rwp_sigma0_vs_torch"] = checks.require(
            checks.compare(train.output_names, checks.run(checks.ort_session(path), f0)[:len(ref)], ref, atol=a.check_atol),
            "train_rwp.onnx at sigma 0")
        fs = dict(feed, rwp_sigma=np.array(0.05, dtype=np.float32))
        s1 = checks.ort_session(path)
        l1, l1b = float(checks.run(s1, fs)[0]), float(checks.run(s1, fs)[0])
        l2 = float(checks.run(checks.ort_session(path), fs)[0])
        if not (np.isfinite(l1) and l1 != float(ref[0]) and l1 != l1b):
            raise checks.CheckFailed(f"train_rwp.onnx: noise has no effect or is frozen (losses {ref[0]}, {l1}, {l1b})")
        report["rwp_sigma0.05"] = dict(loss_clean=float(ref[0]), loss_run1=l1, loss_run2=l1b, loss_fresh_session_run1=l2,
                                       fresh_sessions_repeat=(l1 == l2))

    if "train_fp16" in graphs:
        report["fp16"] = fp16_checks(os.path.join(work, "train_fp16.onnx"), train, train_fp16, test_b, test_p, feed, ref)

    if a.similarity_tokenizer:
        report["sentence_similarity"] = similarity(infer, a.similarity_tokenizer, names, test_p)

    progress("checks passed; writing " + a.out)
    # write the directory
    os.makedirs(a.out, exist_ok=True)
    from safetensors.torch import save_file
    for kind, (fname, _, _) in graphs.items():
        shutil.copyfile(os.path.join(work, fname), os.path.join(a.out, fname))
    if a.external_weights and (a.keep_weights or a.weights != "random"):
        shutil.copyfile(os.path.join(work, BASE_WEIGHTS_FILE), os.path.join(a.out, BASE_WEIGHTS_FILE))
    if trainables:
        save_file({t: params_of[t].detach().contiguous() for t in trainables}, os.path.join(a.out, "trainable_init.safetensors"))
    if not a.no_fixture:
        fx = os.path.join(a.out, "fixture")
        os.makedirs(fx, exist_ok=True)
        save_file({k: v.contiguous() for k, v in test_b.items()}, os.path.join(fx, "batch.safetensors"))
        save_file({n: v.detach().contiguous() for n, v in zip(names, test_p)}, os.path.join(fx, "params.safetensors"))
        exp = {n: r.contiguous() for n, r in zip(train.output_names, ref)}
        exp.update({"infer." + n: r.contiguous() for n, r in zip(infer_outs, ref_inf)})
        save_file(exp, os.path.join(fx, "expected.safetensors"))
        with open(os.path.join(fx, "fixture.json"), "w") as fh:
            json.dump(dict(rank=a.rank, alpha=a.alpha, lora_scale=a.alpha / a.rank, batch=TEST_B, seq=TEST_S,
                           tolerance=dict(rtol=checks.RTOL, atol=a.check_atol),
                           expected="torch eager: train outputs by name; infer outputs as infer.<name>",
                           weights=weights_desc), fh, indent=1)

    def io(model_proto, which):
        rows = []
        for v in getattr(model_proto.graph, which):
            tt = v.type.tensor_type
            rows.append(dict(name=v.name, dtype=onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name,
                             shape=[d.dim_param or d.dim_value for d in tt.shape.dim]))
        return rows

    infer_renamed = renamed_all["infer"]
    lora_modules = []
    for p in modules:
        mod = named[p]
        w = [(n, t) for n, (src, t) in infer_renamed.items() if src == p + ".weight"]
        entry = dict(name=p, **{"in": mod.in_features, "out": mod.out_features}, fan_in_fan_out=mod.fan_in_fan_out)
        if len(w) == 1:
            transposed = w[0][1]
            stored_in_out = mod.fan_in_fan_out != transposed  # Conv1D stores [in, out]
            entry.update(base_weight=w[0][0], base_layout="in_out" if stored_in_out else "out_in")
        else:
            entry.update(base_weight=None, base_layout=None, note=f"W0 found {len(w)} times in infer.onnx")
        lora_modules.append(entry)
    import onnxruntime, onnxscript, transformers
    batch_inputs = [r for r in io(protos["train"], "input") if r["name"] in batch_names]
    manifest = dict(
        contract=CONTRACT, id=a.id, family=a.family, task=fam.task,
        num_labels=getattr(cfg, "num_labels", None) if fam.task == "seq-cls" else None,
        source=dict(hf_class=fam.hf_class, weights=weights_desc, config=json.loads(cfg.to_json_string())),
        graphs={k: v[0] for k, v in graphs.items()},
        inputs=batch_inputs,
        infer_inputs=[r for r in batch_inputs if r["name"] in infer_batch_names],
        infer_outputs=io(protos["infer"], "output"),
        lora=dict(default_rank=a.rank, default_alpha=a.alpha, targets=targets.to_peft(), modules=lora_modules,
                  peft=dict(prefix="base_model.model.", task_type=fam.peft_task_type,
                            modules_to_save=fam.modules_to_save(),
                            **(dict(layers_to_transform=targets.layers) if targets.layers else {}),
                            **(dict(layers_pattern=targets.layers_pattern) if targets.layers_pattern else {}))),
        trainable=[dict(name=t, shape=list(params_of[t].shape)) for t in trainables],
        dropout="off",
        tokenizer=json.loads(a.tokenizer) if a.tokenizer and a.tokenizer.startswith("{") else a.tokenizer,
        exporter=dict(script="scripts/export_lora_graph.py", torch=torch.__version__, transformers=transformers.__version__,
                      onnx=onnx.__version__, onnxscript=onnxscript.__version__, onnxruntime=onnxruntime.__version__,
                      opset=tracing.OPSET, seconds=round(time.time() - t_start, 1)),
        checks=report,
    )
    if "train_rwp" in graphs:
        manifest["rwp"] = dict(
            noise="filter-wise Gaussian on W' = W0 + s B A: std_i = rwp_sigma / sqrt(in) * ||W'_i,:|| (docs/methods.md section 5)",
            outputs="rwp_noise.<module>: the noise drawn for that layer, [out, in] (for tests; fetch only when needed)",
            generator="one ONNX RandomNormalLike per adapted module, seed attribute 1000 + module index",
            reproducible=("the n-th run of a fresh session repeats on the same execution provider; the noise "
                          "stream lives in the session, so it differs across providers and after a resume"
                          if report["rwp_sigma0.05"]["fresh_sessions_repeat"] else "no: ORT drew different noise in two fresh sessions"))
    if "train_fp16" in graphs:
        manifest["mixed_precision"] = dict(
            graph="train_fp16.onnx", compute="float16 (torch.autocast: matmuls fp16; softmax, norms and loss fp32)",
            inputs="the train graph's, plus loss_scale (float32 scalar)",
            outputs="loss (unscaled, float32) and the float32 gradients of loss * loss_scale: divide by loss_scale")
    if base_entries:
        manifest["base_weights"] = dict(file=BASE_WEIGHTS_FILE,
                                        origin=json.loads(a.base_weights_origin) if a.base_weights_origin else {},
                                        tensors=sorted(base_entries.values(), key=lambda e: e["offset"]))
    # the schema Java's reader and prepare's writer are held to (docs/schema/manifest.schema.json)
    schema.check(json.loads(json.dumps(manifest)), os.path.join(a.out, "manifest.json"))
    with open(os.path.join(a.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    sizes = {f: os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out) if f.endswith(".onnx")}
    print(json.dumps(dict(id=a.id, ok=True, seconds=round(time.time() - t_start, 1), sizes=sizes,
                          train_worst=report["train_vs_torch"]["worst_rel_to_max"],
                          infer_worst=report["infer_vs_torch"]["worst_rel_to_max"],
                          similarity=report.get("sentence_similarity"))), flush=True)


def fp16_checks(path, train, train_fp16, test_b, test_p, feed, ref):
    """train_fp16.onnx on ONNX Runtime's CUDA EP against torch's own fp16 autocast step on the GPU, and
    how far both are from the fp32 step (the conformance of fp16 against fp32). fp16 kernels are
    CUDA's: without a GPU the graph is exported unchecked and the report says so."""
    import onnxruntime as ort
    if not torch.cuda.is_available() or "CUDAExecutionProvider" not in ort.get_available_providers():
        return dict(checked=False, why="no CUDA device or no CUDA EP in this onnxruntime")
    scale = 1024.0
    ref16 = train_fp16.eager(test_b, list(test_p) + [torch.tensor(scale)], device="cuda")
    ref16 = [ref16[0]] + [g / scale for g in ref16[1:]]
    sess = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
    got = checks.run(sess, dict(feed, loss_scale=np.array(scale, dtype=np.float32)))
    got = [got[0]] + [g / scale for g in got[1:]]
    names = train.output_names
    vs_torch = checks.compare(names, got, ref16, rtol=5e-2, atol=1e-3)
    out = dict(checked=True, loss_scale=scale,
               ort_vs_torch_amp=checks.require(vs_torch, "train_fp16.onnx vs torch autocast"),
               ort_fp16_vs_fp32=max(r["rel_to_max"] for r in checks.compare(names, got, ref)),
               torch_amp_vs_fp32=max(r["rel_to_max"] for r in checks.compare(names, ref16, ref)),
               loss=dict(fp32=float(ref[0]), torch_amp=float(ref16[0]), ort_fp16=float(got[0])))
    return out


SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.",
             "The stock market fell sharply today."]


def similarity(infer, tokenizer_path, names, params):
    """cos(s0, s_i) of mean-pooled, L2-normalised last_hidden_state at zero LoRA (docs/assets.md values)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_path)
    enc = tok.encode_batch(SENTENCES)  # the MiniLM tokenizer pads to a fixed 128: pool by its mask
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    b = dict(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
    zero = [torch.zeros_like(p) if n.endswith(("lora_A.weight", "lora_B.weight")) else p for n, p in zip(names, params)]
    outs = infer.eager({k: b[k] for k in infer.batch_names}, zero)
    h = outs[infer.output_names.index("last_hidden_state")]
    m = mask.unsqueeze(-1).float()
    e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    return [round(float(e[0] @ e[i]), 4) for i in (1, 2, 3)]


if __name__ == "__main__":
    main()
