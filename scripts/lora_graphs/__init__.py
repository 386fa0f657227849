"""Exporter of lora-graph/1 model directories (see docs/graph-contract.md).

Modules:
  lora      - the LoRA layer (A/B, scale and RWP noise swapped in as graph inputs) and its injection
  families  - model families (roberta, bert, gpt2, clip, qwen2vl): configs, losses, batches, trainables
  tracing   - make_fx tracing with the required decompositions, ONNX export, contract names
  graph_rewrites - exact ONNX-level rewrites of the exported graphs (onnx only; also upgrades old exports)
  checks    - the contract checks that every export must pass (ORT vs torch, ai.onnx only)
  export    - the command line: writes manifest.json, the graphs, trainable_init and fixture/
"""
CONTRACT = "lora-graph/1"
