#!/usr/bin/env python3
"""PyTorch + PEFT doing the trainer's step, for comparison with `lora-trainer bench` on the same GPU.

  python3 scripts/bench/torch_peft_bench.py --config DIR --family roberta --batch 32 --seq 128 --targets query,value --rank 8

Same model config (random init), batch, sequence length, LoRA targets and rank; fp32 weights with
TF32 matmuls (torch's allow_tf32, like the CUDA EP's default); AdamW. LoRA is PEFT's; LoRA-SAM,
FMLoRA and EFlat-LoRA are written plainly in PyTorch on top of it (per-layer pinv math in torch,
the way public code does it). Prints median step ms over --steps after --warmup, peak GPU memory (allocated and reserved),
and the ratios to LoRA, as JSON lines.
"""
import argparse
import collections
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TRANSFORMERS_DISABLE_TORCH_CHECK", "1")

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402

from lora_graphs.families import FAMILIES  # noqa: E402


def lora_pairs(model):
    out = []
    for name, mod in model.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            out.append((mod.lora_A["default"].weight, mod.lora_B["default"].weight, mod.scaling["default"]))
    return out


def flat_eb(pairs, rho):
    """E_B per layer from the section-8 low-rank formulas, per-layer norm (what a plain torch port runs)."""
    ebs = []
    for A, B, s in pairs:
        gA, gB = A.grad, B.grad
        ka = A @ A.T
        kb = B.T @ B
        ka_p = torch.linalg.pinv(ka, rtol=1e-6, hermitian=True)
        kb_p = torch.linalg.pinv(kb, rtol=1e-6, hermitian=True)
        U = (gB @ ka_p) / s
        V = (kb_p @ gA) / s
        Y = V @ A.T
        n2 = (U.T @ U * ka).sum() + (kb * (V @ V.T)).sum() + 2 * ((B.T @ U) * Y).sum()
        n = torch.sqrt(torch.clamp(n2, min=0))
        D = U + B @ (Y @ ka_p)
        ebs.append(torch.where(n > 0, rho / (s * n), torch.zeros_like(n)) * D)
    return ebs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--family", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--methods", default="lora,lora-sam,fmlora,eflat-lora")
    ap.add_argument("--compile", nargs="?", const="default", default=None,
                    choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                    help="torch.compile the PEFT model's forward, in this mode (default: default; reduce-overhead"
                         " replays CUDA graphs, as our --io cuda-graph does); the warm-up steps absorb compilation")
    ap.add_argument("--saved-tensors", action="store_true",
                    help="instead of timing: the bytes autograd saves for the backward in one forward (unique"
                         " storages, parameters excluded), by shape, for comparison with memory_at_peak.py")
    ap.add_argument("--amp", default="none", choices=["none", "fp16", "bf16"],
                    help="torch.autocast around the forward (fp16 with GradScaler); lora and eflat-lora only")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(a.config)
    cfg._attn_implementation = a.attn
    for sub in ("text_config", "vision_config"):
        if hasattr(cfg, sub):
            getattr(cfg, sub)._attn_implementation = a.attn
    fam = FAMILIES[a.family](cfg)
    torch.manual_seed(0)

    def device_used_gib():  # the whole device, as nvidia-smi and the trainer's bench read it
        free, total = torch.cuda.mem_get_info()
        return (total - free) / 2 ** 30

    torch.zeros(1, device="cuda")  # creates the CUDA context
    context_gib = device_used_gib()
    model = fam.build().cuda()
    weights_gib = torch.cuda.memory_allocated() / 2 ** 30
    model.train()
    for m in model.modules():  # dropout off, as in the exported graphs
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    task = {"roberta": "SEQ_CLS", "bert": "SEQ_CLS", "gpt2": "CAUSAL_LM", "qwen2vl": "CAUSAL_LM"}.get(a.family)
    lc = LoraConfig(r=a.rank, lora_alpha=a.alpha, target_modules=a.targets.split(","), lora_dropout=0.0,
                    task_type=task, fan_in_fan_out=a.family == "gpt2")
    model = get_peft_model(model, lc)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    b, _ = fam.batch(model.base_model.model, a.batch, a.seq, 0)
    # what users who care about step time run: the model compiled, the loss and optimizer eager
    net = torch.compile(model.base_model.model, mode=a.compile) if a.compile else model.base_model.model
    b = {k: v.cuda() for k, v in b.items()}
    pairs = lora_pairs(model)
    ema = [None]

    scaler = torch.amp.GradScaler("cuda") if a.amp == "fp16" else None
    if a.amp != "none" and set(a.methods.split(",")) - {"lora", "eflat-lora"}:
        sys.exit("--amp: lora and eflat-lora only")

    def loss_fn():
        if a.amp == "none":
            return fam.loss(net, b)
        with torch.autocast("cuda", dtype=torch.float16 if a.amp == "fp16" else torch.bfloat16):
            return fam.loss(net, b).float()

    def backward(loss):  # fp16: GradScaler's scaled backward, unscaled before any use of .grad
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)

    def step(method):
        if method == "lora":
            backward(loss_fn())
        elif method == "lora-sam":
            loss_fn().backward()
            g = [p.grad for A, B, _ in pairs for p in (A, B)]
            nu = torch.sqrt(sum((x * x).sum() for x in g))
            eps = [0.05 * x / (nu + 1e-12) for x in g]
            with torch.no_grad():
                for p, e in zip([p for A, B, _ in pairs for p in (A, B)], eps):
                    p.add_(e)
            opt.zero_grad(set_to_none=True)
            loss_fn().backward()
            with torch.no_grad():
                for p, e in zip([p for A, B, _ in pairs for p in (A, B)], eps):
                    p.sub_(e)
        elif method == "fmlora":
            loss_fn().backward()
            ebs = flat_eb(pairs, 0.05)
            with torch.no_grad():
                for (A, B, _), e in zip(pairs, ebs):
                    B.add_(e)
            opt.zero_grad(set_to_none=True)
            loss_fn().backward()
            with torch.no_grad():
                for (A, B, _), e in zip(pairs, ebs):
                    B.sub_(e)
        elif method == "eflat-lora":
            if ema[0] is not None:
                with torch.no_grad():
                    for (A, B, _), e in zip(pairs, ema[0]):
                        B.add_(e)
            backward(loss_fn())
            ebs = flat_eb(pairs, 0.05)
            with torch.no_grad():
                if ema[0] is not None:
                    for (A, B, _), e in zip(pairs, ema[0]):
                        B.sub_(e)
                    ema[0] = [0.1 * o + 0.9 * n for o, n in zip(ema[0], ebs)]
                else:
                    ema[0] = ebs
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()
        opt.zero_grad(set_to_none=True)

    if a.saved_tensors:
        saved_tensors(model, loss_fn)
        return
    rows = {}
    for method in a.methods.split(","):
        ema[0] = None
        for _ in range(a.warmup):
            step(method)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            step(method)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        times.sort()
        rows[method] = dict(median_ms=1e3 * times[len(times) // 2],
                            peak_gib=torch.cuda.max_memory_allocated() / 2 ** 30,
                            # what the caching allocator held: comparable with nvidia-smi's view of a process
                            peak_reserved_gib=torch.cuda.max_memory_reserved() / 2 ** 30,
                            # like for like with the trainer's bench: the context, the base model
                            # on the device, and everything in use after the steps
                            context_gib=context_gib, weights_gib=weights_gib,
                            device_used_gib=device_used_gib())
    for m, r in rows.items():
        r["vs_lora"] = r["median_ms"] / rows["lora"]["median_ms"] if "lora" in rows else math.nan
        print(json.dumps(dict(framework=f"torch {torch.__version__} + peft, attn {a.attn}, amp {a.amp}"
                              + (f", torch.compile ({a.compile})" if a.compile else ""), family=a.family,
                              batch=a.batch, seq=a.seq, method=m, **r)), flush=True)


def saved_tensors(model, loss_fn):
    """Prints what one forward keeps for the backward: unique storages, the weights excluded."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen, by_shape = {}, collections.Counter()

    def pack(t):
        st = t.untyped_storage()
        if t.is_cuda and st.data_ptr() not in weights and st.data_ptr() not in seen:
            seen[st.data_ptr()] = st.nbytes()
            by_shape[(str(t.dtype).replace("torch.", ""), tuple(t.shape))] += st.nbytes()
        return t

    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn()
    torch.cuda.synchronize()
    after = torch.cuda.memory_allocated()
    loss.backward()
    print(json.dumps(dict(saved_mib=sum(seen.values()) / 2 ** 20, saved_storages=len(seen),
                          allocated_by_forward_mib=(after - before) / 2 ** 20,
                          largest=[dict(dtype=k[0], shape=list(k[1]), mib=v / 2 ** 20)
                                   for k, v in by_shape.most_common(12)])), flush=True)


if __name__ == "__main__":
    main()
