#!/usr/bin/env python3
"""Writes trainer/src/test/resources/peft-rank-pattern: PEFT adapters with rank_pattern and
alpha_pattern, made by the peft library itself, and PEFT's outputs on each model's fixture batch
(RankPatternTest reads them with the Java trainer and compares). Run where torch, transformers and
peft are installed (it was made with peft 0.21.0, torch 2.11, transformers 5.17):

  python3 scripts/make_peft_rank_pattern_fixture.py OUT

then copy OUT/<model-id>/peft/{adapter_config.json,adapter_model.safetensors} and the outputs;
tiny-gpt2-lm keeps only example 0, positions 0-3 of its logits (peft_logits_head.safetensors).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from reference import rebuild  # noqa: E402

CASES = [
    ("tiny-roberta-cls", dict(r=8, lora_alpha=16, target_modules=["query", "value"],
                              rank_pattern={"layer\\.0\\..*query": 4, "value": 16},
                              alpha_pattern={"layer.1.attention.self.value": 64})),
    ("tiny-gpt2-lm", dict(r=4, lora_alpha=8, use_rslora=True, fan_in_fan_out=True, target_modules=["c_attn"],
                          rank_pattern={"h.0.attn.c_attn": 2}, alpha_pattern={"h.1.attn.c_attn": 32})),
]

out = sys.argv[1]
repo = os.path.dirname(HERE)
for model_id, kw in CASES:
    mdir = os.path.join(repo, "onnx-models", model_id)
    man, fam, model = rebuild(mdir)
    torch.manual_seed(0)
    pm = get_peft_model(model, LoraConfig(**kw))
    with torch.no_grad():  # B = 0 would make every scale look right
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.2)
    for n, m in pm.named_modules():
        if isinstance(getattr(m, "scaling", None), dict) and "default" in m.scaling:
            print(model_id, n, "r", m.r["default"], "scaling", m.scaling["default"])
    d = os.path.join(out, model_id)
    pm.save_pretrained(os.path.join(d, "peft"))
    batch = load_file(os.path.join(mdir, "fixture", "batch.safetensors"))
    b = {i["name"]: batch[i["name"]] for i in man["infer_inputs"]}
    pm.eval()
    with torch.no_grad():
        outs = fam.infer(pm.base_model.model, b)
    save_file({k: v.contiguous().float() for k, v in outs.items()}, os.path.join(d, "peft_outputs.safetensors"))
    print(json.dumps({k: v.shape[-1] for k, v in outs.items()}))
