#!/usr/bin/env python3
"""The exporter's LoRA target matching (lora_graphs.targets, the rules `prepare` applies too) against PEFT's own:
for each case, the modules our rule adapts in a tiny Hugging Face model and the modules get_peft_model adapts
(those holding lora_A) must be the same set. Run where torch, transformers and peft are installed:
  python3 scripts/check_peft_targets.py
Prints one line per case and exits 1 on any difference."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch.nn as nn  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, RobertaConfig, RobertaForSequenceClassification  # noqa: E402

from lora_graphs.targets import Targets  # noqa: E402


def gpt2():
    return GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=100, n_positions=64))


def roberta():
    return RobertaForSequenceClassification(RobertaConfig(num_hidden_layers=3, hidden_size=32, num_attention_heads=2,
                                                          intermediate_size=64, vocab_size=100))


def ours(model, targets, task):
    heads = [n for n, _ in model.named_parameters() if n.startswith("classifier.")]
    out_emb = model.get_output_embeddings()
    found = set()
    for name, m in model.named_modules():
        linear = isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"
        is_output = m is out_emb or any(h.startswith(name + ".") for h in heads)
        if linear and targets.matches(name, is_output):
            found.add(name)
    return found


def peft(model, task, **kw):
    pm = get_peft_model(model, LoraConfig(r=2, task_type=task, **kw))
    prefix = "base_model.model."
    return {n[len(prefix):] for n, m in pm.named_modules() if hasattr(m, "lora_A") and n.startswith(prefix)}


CASES = [
    ("gpt2 PEFT's list attn.c_attn,attn.c_proj", gpt2, "CAUSAL_LM", Targets.parse("attn.c_attn,attn.c_proj"),
     dict(target_modules=["attn.c_attn", "attn.c_proj"])),
    ("gpt2 c_proj (attention and MLP)", gpt2, "CAUSAL_LM", Targets.parse("c_proj"), dict(target_modules=["c_proj"])),
    ("gpt2 all-linear", gpt2, "CAUSAL_LM", Targets.parse("all-linear"), dict(target_modules="all-linear")),
    ("gpt2 regex", gpt2, "CAUSAL_LM", Targets.parse(None, regex=r".*\.h\.[02]\.attn\.c_attn"),
     dict(target_modules=r".*\.h\.[02]\.attn\.c_attn")),
    ("gpt2 layers_to_transform 1 with pattern h", gpt2, "CAUSAL_LM", Targets.parse("c_attn", layers="1", layers_pattern="h"),
     dict(target_modules=["c_attn"], layers_to_transform=[1], layers_pattern="h")),
    ("gpt2 exclude mlp.c_proj", gpt2, "CAUSAL_LM", Targets.parse("c_proj", exclude="mlp.c_proj"),
     dict(target_modules=["c_proj"], exclude_modules=["mlp.c_proj"])),
    ("roberta query,value layers 0,2", roberta, "SEQ_CLS", Targets.parse("query,value", layers="0,2"),
     dict(target_modules=["query", "value"], layers_to_transform=[0, 2])),
    ("roberta all-linear", roberta, "SEQ_CLS", Targets.parse("all-linear"), dict(target_modules="all-linear")),
]

bad = 0
for label, build, task, targets, kw in CASES:
    a, b = ours(build(), targets, task), peft(build(), task, **kw)
    same = a == b
    bad += not same
    print(f"{'same' if same else 'DIFFERENT'}  {label}: {len(a)} modules"
          + ("" if same else f"; ours only {sorted(a - b)[:4]}, PEFT only {sorted(b - a)[:4]}"))
sys.exit(1 if bad else 0)
