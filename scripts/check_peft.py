#!/usr/bin/env python3
"""Loads the trainer's PEFT adapter directories with the `peft` library into the same torch model and
compares the outputs with the Java trainer's (run where torch, transformers and peft are installed).

  python3 scripts/check_peft.py ROOT
ROOT/<model-id>/peft is written by `lora-trainer export --format peft`, ROOT/<model-id>/java_outputs.safetensors
by `lora-trainer infer --adapter ROOT/<model-id>/peft --batch onnx-models/<model-id>/fixture/batch.safetensors`.
Prints, per model and output, max|peft - java| / max|java|, and how far the adapter moves the logits
(peft with the adapter disabled), so a pass is not a no-op.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))

import torch  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from reference import rebuild  # noqa: E402

root = sys.argv[1]
repo = os.path.dirname(HERE)
worst = 0.0
for model_id in sorted(os.listdir(root)):
    mdir = os.path.join(repo, "onnx-models", model_id)
    man, fam, model = rebuild(mdir)
    peft_model = PeftModel.from_pretrained(model, os.path.join(root, model_id, "peft"))
    peft_model.eval()
    batch = load_file(os.path.join(mdir, "fixture", "batch.safetensors"))
    names = [i["name"] for i in man["infer_inputs"]]
    b = {k: batch[k] for k in names}
    java = load_file(os.path.join(root, model_id, "java_outputs.safetensors"))
    with torch.no_grad():
        outs = fam.infer(peft_model.base_model.model, b)
        with peft_model.disable_adapter():
            base = fam.infer(peft_model.base_model.model, b)
    row = dict(model=model_id, peft_modules=sum(1 for n, _ in peft_model.named_modules() if n.endswith("lora_A")))
    for k, v in outs.items():
        j = java[k]
        err = float((v - j).abs().max() / j.abs().max())
        row[k] = err
        worst = max(worst, err)
    row["adapter_moves_logits"] = float((outs["logits"] - base["logits"]).abs().max() / base["logits"].abs().max())
    print(json.dumps(row), flush=True)
print(json.dumps(dict(worst_rel_to_max=worst, ok=worst <= 1e-5)))
