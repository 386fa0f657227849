#!/usr/bin/env python3
"""Reference implementation of every trainer method in plain PyTorch, independent of the Java
trainer and of the ONNX graphs, that writes a golden trace directory for conformance tests.

  python3 scripts/reference/reference.py --model onnx-models/tiny-roberta-cls --method eflat-lora --out DIR

The model is rebuilt exactly as the exporter built it (same config, seed and init; checked
against the graph's initializers) and runs eagerly with a hand-written LoRA layer
y = base(x) + s (x A^T) B^T. The methods follow docs/methods.md, written the plain way:
FMLoRA and EFlat-LoRA form the full-space estimate G_bar = 1/2 [(1/s) g_B (A^T)^+ + (1/s) (B^T)^+ g_A]
and E_B = (1/s) rho G_bar/||G_bar|| A^+ with explicit n x m matrices and torch.linalg.pinv (singular
values at or below 1e-3 of the largest count as zero, the trainer's cutoff), in float64.

The golden directory holds:
  config.json         model, method and optimizer settings, and `args`: the same run as trainer CLI options
  init.safetensors    the initial LoRA tensors and heads (contract names); Bi-LoRA's branch as aux.<name>
  batches.safetensors step<t>.<input> for every step
  trace.jsonl         per step: step, loss (of the first pass), lr, perturbation_norm
  final.safetensors   the final LoRA tensors and heads
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TRANSFORMERS_DISABLE_TORCH_CHECK", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from lora_graphs.families import FAMILIES, tiny_config  # noqa: E402

PINV_RTOL = 1e-3


class RefLora(nn.Module):
    """y = base(x) + s (x A^T) B^T (+ the auxiliary branch s (x A2^T) B2^T for Bi-LoRA)."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.A = self.B = self.A2 = self.B2 = None
        self.s = None

    def forward(self, x):
        y = self.base(x) + self.s * ((x @ self.A.t()) @ self.B.t())
        if self.A2 is not None:
            y = y + self.s * ((x @ self.A2.t()) @ self.B2.t())
        return y


def rebuild(model_dir):
    """The exporter's model: tiny config, torch.manual_seed(seed), build, make_unique(seed)."""
    from export_lora_graph import make_unique
    man = json.load(open(os.path.join(model_dir, "manifest.json")))
    weights = man["source"]["weights"]
    if not weights.startswith("random-init, seed "):
        raise SystemExit(f"{model_dir}: only seeded random-init models can be rebuilt here ({weights!r})")
    seed = int(weights.split("seed ")[1].split(";")[0])
    torch.manual_seed(seed)
    fam = FAMILIES[man["family"]](tiny_config(man["family"]))
    model = fam.build()
    make_unique(model, seed)
    model.eval()
    check_against_graph(model, os.path.join(model_dir, man["graphs"]["infer"]))
    for p in model.parameters():
        p.requires_grad_(False)
    return man, fam, model


def check_against_graph(model, infer_path):
    import onnx
    from onnx import numpy_helper
    state = model.state_dict()
    same = 0
    for t in onnx.load(infer_path).graph.initializer:
        if t.name in state:
            ref = torch.from_numpy(numpy_helper.to_array(t).copy())  # the graph may hold it reshaped
            if ref.numel() != state[t.name].numel() or not torch.equal(ref.reshape(-1), state[t.name].reshape(-1)):
                raise SystemExit(f"{infer_path}: initializer {t.name} differs from the rebuilt model")
            same += 1
    if same < 4:
        raise SystemExit(f"{infer_path}: only {same} initializers matched by name; cannot confirm the rebuild")


def inject(model, modules):
    layers = {}
    for path in modules:
        parent, leaf = path.rsplit(".", 1)
        owner = model.get_submodule(parent)
        layer = RefLora(getattr(owner, leaf))
        setattr(owner, leaf, layer)
        layers[path] = layer
    return layers


def lr_at(t, peak, warmup, total, kind):
    if t < warmup:
        return peak * t / warmup
    progress = (t - warmup) / max(1, total - warmup)
    if kind == "linear":
        return peak * max(0.0, 1 - progress)
    if kind == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return peak


def decay(kind, t, total):
    """alpha_t / mu_0 for BAR: 1 -> 0 (cosine, linear) or 1 (constant)."""
    return lr_at(t, 1.0, 0, total, kind)


def rho_at(rho0, kind, t, total):
    if kind == "constant":
        return rho0
    return 0.4 * rho0 + 0.6 * rho0 * 0.5 * (1 + math.cos(math.pi * t / max(1, total)))


class AdamW:
    """Adam with bias correction and decoupled weight decay: p -= lr (m_hat / (sqrt(v_hat) + eps) + wd p)."""

    def __init__(self, params, b1, b2, eps, wd, maximize=False):
        self.b1, self.b2, self.eps, self.wd, self.maximize = b1, b2, eps, wd, maximize
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k in params:
            g = grads[k]
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            u = (self.m[k] / c1) / (torch.sqrt(self.v[k] / c2) + self.eps) + self.wd * params[k]
            params[k] = params[k] + (lr if self.maximize else -lr) * u


def pinv(x):
    return torch.linalg.pinv(x, rtol=PINV_RTOL)


def flat_eb(P, g, mods, s, rho, scope):
    """E_B per layer from the full-space estimate (docs/methods.md sections 3, 4)."""
    gbar = {}
    for m in mods:
        A, B = P[m + ".lora_A.weight"].double(), P[m + ".lora_B.weight"].double()
        gA, gB = g[m + ".lora_A.weight"].double(), g[m + ".lora_B.weight"].double()
        gbar[m] = 0.5 * ((1 / s) * gB @ pinv(A.t()) + (1 / s) * pinv(B.t()) @ gA)
    glob = math.sqrt(sum(float((x * x).sum()) for x in gbar.values()))
    out = {}
    for m in mods:
        n = glob if scope == "global" else float(gbar[m].norm())
        A = P[m + ".lora_A.weight"].double()
        ew = rho * gbar[m] / n if n > 0 else torch.zeros_like(gbar[m])
        out[m + ".lora_B.weight"] = ((1 / s) * ew @ pinv(A)).float()
    return out


def norm(tensors):
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in tensors))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--method", required=True, choices=["lora", "lora-sam", "fmlora", "eflat-lora", "bi-lora",
                                                          "lora-obar", "lora-nbar"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=8.0)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--rho", type=float, default=0.05)
    ap.add_argument("--rho-schedule", default=None)
    ap.add_argument("--beta", type=float, default=0.9)
    ap.add_argument("--norm-scope", default=None)
    ap.add_argument("--aux-rank", type=int, default=4)
    ap.add_argument("--bar-mu", type=float, default=0.5)
    ap.add_argument("--bar-schedule", default="cosine")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    b1, b2, eps = 0.9, 0.999, 1e-8

    man, fam, model = rebuild(a.model)
    mods = [m["name"] for m in man["lora"]["modules"]]
    layers = inject(model, mods)
    heads = [t["name"] for t in man.get("trainable", [])]
    named = dict(model.named_parameters())
    s = a.alpha / a.rank
    g = torch.Generator().manual_seed(a.seed)
    P = {}
    for m in mods:
        lay = layers[m]
        fin = lay.base.weight.shape[0] if not isinstance(lay.base, nn.Linear) else lay.base.in_features
        fout = lay.base.weight.shape[1] if not isinstance(lay.base, nn.Linear) else lay.base.out_features
        P[m + ".lora_A.weight"] = (torch.rand(a.rank, fin, generator=g) * 2 - 1) / math.sqrt(fin)
        P[m + ".lora_B.weight"] = torch.zeros(fout, a.rank)
    for h in heads:
        P[h] = named[h].detach().clone()
    aux = {}
    if a.method == "bi-lora":
        for m in mods:
            fin = P[m + ".lora_A.weight"].shape[1]
            fout = P[m + ".lora_B.weight"].shape[0]
            aux[m + ".lora_A.weight"] = (torch.rand(a.aux_rank, fin, generator=g) * 2 - 1) / math.sqrt(fin)
            aux[m + ".lora_B.weight"] = torch.zeros(fout, a.aux_rank)
    init = {k: v.clone().contiguous() for k, v in P.items()}
    init.update({"aux." + k: v.clone().contiguous() for k, v in aux.items()})

    batches = [fam.batch(model, a.batch_size, a.seq, 1000 + t)[0] for t in range(a.steps)]

    def loss_and_grads(params, aux_params=None):
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        aux_leaves = {k: v.detach().clone().requires_grad_(True) for k, v in (aux_params or {}).items()}
        for m in mods:
            lay = layers[m]
            lay.A, lay.B, lay.s = leaves[m + ".lora_A.weight"], leaves[m + ".lora_B.weight"], s
            lay.A2 = aux_leaves.get(m + ".lora_A.weight")
            lay.B2 = aux_leaves.get(m + ".lora_B.weight")
        saved_heads = {}
        for h in heads:  # the heads are module parameters: swap in the leaves
            owner, leaf = h.rsplit(".", 1)
            mod = model.get_submodule(owner)
            saved_heads[h] = getattr(mod, leaf)
            delattr(mod, leaf)
            setattr(mod, leaf, leaves[h])
        try:
            with torch.enable_grad():
                loss = fam.loss(model, batch)
                names = list(leaves) + ["aux." + k for k in aux_leaves]
                grads = torch.autograd.grad(loss, list(leaves.values()) + list(aux_leaves.values()))
        finally:
            for h in heads:
                owner, leaf = h.rsplit(".", 1)
                mod = model.get_submodule(owner)
                delattr(mod, leaf)
                mod.register_parameter(leaf, saved_heads[h])
        return float(loss), dict(zip(names, [x.detach() for x in grads]))

    opt = AdamW(P, b1, b2, eps, a.weight_decay)
    aux_opt = AdamW(aux, b1, b2, eps, 0.0, maximize=True) if aux else None
    warmup = math.ceil(a.warmup * a.steps)
    rho_sched = a.rho_schedule or ("cosine" if a.method in ("fmlora", "eflat-lora") else "constant")
    scope = a.norm_scope or ("per-layer" if a.method in ("fmlora", "eflat-lora") else "global")
    ema = None
    trace = []
    for t in range(a.steps):
        batch = batches[t]
        lr = lr_at(t, a.lr, warmup, a.steps, a.schedule)
        pert = None
        if a.method in ("lora", "lora-obar", "lora-nbar"):
            loss, gr = loss_and_grads(P)
            if a.method != "lora":
                f = a.bar_mu * decay(a.bar_schedule, t, a.steps) * lr
                for m in mods:
                    kA, kB = m + ".lora_A.weight", m + ".lora_B.weight"
                    if a.method == "lora-nbar":
                        grow_b = float(gr[kB].norm()) >= float(gr[kA].norm())
                    else:
                        grow_b = float(P[kB].norm()) < float(P[kA].norm())
                    P[kB] = P[kB] * (1 + f if grow_b else 1 - f)
                    P[kA] = P[kA] * (1 - f if grow_b else 1 + f)
        elif a.method == "lora-sam":
            loss, g0 = loss_and_grads(P)
            lora_keys = [k for k in P if k.endswith(("lora_A.weight", "lora_B.weight"))]
            groups = [lora_keys] if scope == "global" else [[m + ".lora_A.weight", m + ".lora_B.weight"] for m in mods]
            eps_ = {}
            for grp in groups:
                nu = norm([g0[k] for k in grp])
                for k in grp:
                    eps_[k] = a.rho * g0[k] / (nu + 1e-12)
            pert = norm(eps_.values())
            _, gr = loss_and_grads({k: (v + eps_[k] if k in eps_ else v) for k, v in P.items()})
        elif a.method == "fmlora":
            loss, g0 = loss_and_grads(P)
            eb = flat_eb(P, g0, mods, s, rho_at(a.rho, rho_sched, t, a.steps), scope)
            pert = norm(eb.values())
            _, gr = loss_and_grads({k: (v + eb[k] if k in eb else v) for k, v in P.items()})
        elif a.method == "eflat-lora":
            tilde = {k: (v + ema[k] if ema and k in ema else v) for k, v in P.items()}
            pert = norm(ema.values()) if ema else 0.0
            loss, gr = loss_and_grads(tilde)
            e_t = flat_eb(tilde, gr, mods, s, rho_at(a.rho, rho_sched, t, a.steps), scope)  # with B~ (docs/methods.md section 4)
            ema = e_t if ema is None else {k: (1 - a.beta) * ema[k] + a.beta * e_t[k] for k in ema}
        elif a.method == "bi-lora":
            loss, both = loss_and_grads(P, aux)
            gr = {k: v for k, v in both.items() if not k.startswith("aux.")}
            gaux = {k[4:]: v for k, v in both.items() if k.startswith("aux.")}
        clip_norm = norm(gr.values())
        if a.max_grad_norm > 0 and clip_norm > a.max_grad_norm:
            gr = {k: v * (a.max_grad_norm / clip_norm) for k, v in gr.items()}
        opt.step(P, gr, lr)
        if a.method == "bi-lora":
            aux_opt.step(aux, gaux, lr)
            c2 = {m: float(((s * aux[m + ".lora_B.weight"].double() @ aux[m + ".lora_A.weight"].double()) ** 2).sum())
                  for m in mods}
            total = math.sqrt(sum(c2.values()))
            after = 0.0
            for m in mods:
                c = total if scope == "global" else math.sqrt(c2[m])
                f = math.sqrt(a.rho / c) if c > a.rho else 1.0
                aux[m + ".lora_A.weight"] = aux[m + ".lora_A.weight"] * f
                aux[m + ".lora_B.weight"] = aux[m + ".lora_B.weight"] * f
                after += c2[m] * f ** 4
            pert = math.sqrt(after)
        row = dict(step=t + 1, loss=loss, lr=lr)
        if pert is not None:
            row["perturbation_norm"] = pert
        trace.append(row)

    os.makedirs(a.out, exist_ok=True)
    from safetensors.torch import save_file
    save_file(init, os.path.join(a.out, "init.safetensors"))
    flat = {}
    for t, b in enumerate(batches):
        for k, v in b.items():
            flat[f"step{t}.{k}"] = v.contiguous()
    save_file(flat, os.path.join(a.out, "batches.safetensors"))
    save_file({k: v.contiguous() for k, v in P.items()}, os.path.join(a.out, "final.safetensors"))
    with open(os.path.join(a.out, "trace.jsonl"), "w") as fh:
        for row in trace:
            fh.write(json.dumps(row) + "\n")
    args = ["--method", a.method, "--rank", str(a.rank), "--alpha", str(a.alpha), "--lr", str(a.lr),
            "--schedule", a.schedule, "--warmup", str(a.warmup), "--weight-decay", str(a.weight_decay),
            "--max-grad-norm", str(a.max_grad_norm), "--steps", str(a.steps), "--batch-size", str(a.batch_size)]
    if a.method in ("lora-sam", "fmlora", "eflat-lora", "bi-lora"):
        args += ["--rho", str(a.rho), "--norm-scope", scope]
    if a.method in ("fmlora", "eflat-lora"):
        args += ["--rho-schedule", rho_sched]
    if a.method == "eflat-lora":
        args += ["--beta", str(a.beta)]
    if a.method == "bi-lora":
        args += ["--aux-rank", str(a.aux_rank)]
    if a.method in ("lora-obar", "lora-nbar"):
        args += ["--bar-mu", str(a.bar_mu), "--bar-schedule", a.bar_schedule]
    import transformers
    cfg = dict(model=man["id"], method=a.method, steps=a.steps, args=args, reference="scripts/reference/reference.py",
               torch=torch.__version__, transformers=transformers.__version__,
               loss="the first pass's loss of each step (at B + E_hat for eflat-lora)")
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=1)
    print(json.dumps(dict(model=man["id"], method=a.method, first=trace[0]["loss"], last=trace[-1]["loss"])), flush=True)


if __name__ == "__main__":
    main()
