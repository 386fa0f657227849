#!/usr/bin/env python3
"""Whether a PEFT directory written by `lora-trainer export --format peft` loads onto the transformers
class it is meant for: every tensor of adapter_model.safetensors must land in the model with its value
(run where torch, transformers and peft are installed; no weights are downloaded: the model is built
from a config, and only the adapter's own tensors are compared).

  python3 scripts/check_peft_keys.py CLASS CONFIG_JSON PEFT_DIR [TASK_TYPE]

CLASS is a transformers class name (BertForSequenceClassification, BertModel, ...); CONFIG_JSON a
file of its config's fields; TASK_TYPE, if given, replaces the directory's task_type (in a copy).
Prints how many tensors loaded, which did not, and exits 1 if any did not.
"""
import json
import os
import shutil
import sys
import tempfile
import warnings

import torch
import transformers
from peft import PeftModel
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file

cls_name, config_file, peft_dir = sys.argv[1:4]
task = sys.argv[4] if len(sys.argv) > 4 else None
cls = getattr(transformers, cls_name)
fields = json.load(open(config_file))
config = getattr(transformers, cls_name.replace("ForSequenceClassification", "").replace("Model", "") + "Config")(**fields)
if task:
    tmp = tempfile.mkdtemp()
    shutil.copytree(peft_dir, tmp, dirs_exist_ok=True)
    c = json.load(open(os.path.join(tmp, "adapter_config.json")))
    c["task_type"] = task
    json.dump(c, open(os.path.join(tmp, "adapter_config.json"), "w"))
    peft_dir = tmp
torch.manual_seed(0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = PeftModel.from_pretrained(cls(config), peft_dir)
saved = load_file(os.path.join(peft_dir, "adapter_model.safetensors"))
loaded = get_peft_model_state_dict(model)
bad = []
for k, v in saved.items():
    got = loaded.get(k)
    if got is None or got.shape != v.shape or not torch.equal(got.cpu(), v):
        bad.append(k)
print(f"{cls_name} <- {sys.argv[3]} (task_type {task or 'as written'}): {len(saved) - len(bad)} of "
      f"{len(saved)} tensors loaded with their values")
for k in bad[:8]:
    print(f"  NOT LOADED: {k}")
for w in caught:
    print(f"  warning: {str(w.message)[:300]}")
sys.exit(1 if bad else 0)
