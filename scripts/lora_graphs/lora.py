"""The LoRA layer used for tracing.

y = x W0^T + b + s * (x A^T) B^T, with A [r, in] and B [out, r] (PEFT orientation). A, B, the scale s
and the RWP sigma are buffers that torch.func.functional_call replaces with the traced graph inputs,
so the exported graphs take them as inputs. Dropout is off (contract v1).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Shared(nn.Module):
    """Holds the scalars every LoRA layer reads: lora_scale and rwp_sigma (graph inputs)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("lora_scale", torch.tensor(1.0))
        self.register_buffer("rwp_sigma", torch.tensor(0.0))
        self.rwp = False  # train_rwp graphs: add filter-wise Gaussian noise to W' = W0 + s B A
        self.noises = []  # (module, noise) of the last forward, returned by train_rwp graphs


class LoraLinear(nn.Module):
    """Wraps nn.Linear (weight [out, in]) or transformers' Conv1D (weight [in, out], fan_in_fan_out)."""

    def __init__(self, base, rank, shared):
        super().__init__()
        self.base = base
        self.fan_in_fan_out = not isinstance(base, nn.Linear)
        if self.fan_in_fan_out:
            self.in_features, self.out_features = base.weight.shape
        else:
            self.out_features, self.in_features = base.weight.shape
        self.register_buffer("lora_A", torch.zeros(rank, self.in_features))
        self.register_buffer("lora_B", torch.zeros(self.out_features, rank))
        self._shared = [shared]  # a list, so the shared module is not registered twice

    def forward(self, x):
        shared = self._shared[0]
        s = shared.lora_scale
        y = self.base(x) + s * F.linear(F.linear(x, self.lora_A), self.lora_B)
        if shared.rwp:
            noise = self._rwp_noise(shared.rwp_sigma, s)
            shared.noises.append((self.path, noise))
            y = y + F.linear(x, noise)
        return y

    def _rwp_noise(self, sigma, s):
        """Flat-LoRA noise (docs/methods.md section 5): eps_ij ~ N(0, sigma^2 / in * ||W'_i,:||^2), i = output
        filter, W' = W0 + s B A, returned in [out, in] orientation. The noise is not differentiated
        (the reference adds it to W0 in place under no_grad)."""
        with torch.no_grad():
            w0 = self.base.weight.t() if self.fan_in_fan_out else self.base.weight
            w_prime = w0 + s * (self.lora_B @ self.lora_A)
            std = sigma / math.sqrt(self.in_features) * torch.linalg.vector_norm(w_prime, dim=1, keepdim=True)
            return torch.randn_like(w_prime) * std


def inject(model, targets, keep, rank, shared, is_output=lambda path, module: False):
    """Replaces every linear child (nn.Linear or Conv1D) that `targets` (lora_graphs.targets.Targets, PEFT's
    rules) matches and whose full path passes `keep`; `is_output(path, module)` names the output layers that
    all-linear leaves out. Returns the adapted module paths in model order."""
    todo = []
    for name, mod in model.named_modules():
        for cname, child in mod.named_children():
            full = f"{name}.{cname}" if name else cname
            is_linear = isinstance(child, nn.Linear) or type(child).__name__ == "Conv1D"
            if is_linear and keep(full) and targets.matches(full, is_output(full, child)):
                todo.append((mod, cname, full))
    for mod, cname, full in todo:
        layer = LoraLinear(getattr(mod, cname), rank, shared)
        layer.path = full
        setattr(mod, cname, layer)
    if not todo:
        raise ValueError(f"no module matched the LoRA targets {targets.to_peft()}")
    return [full for _, _, full in todo]
