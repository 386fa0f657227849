"""A graph with gpt2-large's LoRA feeds and outputs (36 layers, A 4 x 1280, B 3840 x 4, 8 x 512 token ids) and
almost no compute: grad_X = 2 X, loss = mean(input_ids). CopyProbe.java runs it to time the trainer's host copies.
    python3 scripts/bench/copy_probe_graph.py OUT.onnx        (needs only the onnx package)"""
import sys

import onnx
from onnx import TensorProto, helper

inputs, outputs, nodes = [], [helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])], []
for layer in range(36):
    for part, shape in (("A", [4, 1280]), ("B", [3840, 4])):
        name = f"lora_{part}_{layer}"
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        outputs.append(helper.make_tensor_value_info("grad_" + name, TensorProto.FLOAT, shape))
        nodes.append(helper.make_node("Mul", [name, "two"], ["grad_" + name]))
inputs.append(helper.make_tensor_value_info("input_ids", TensorProto.INT64, [8, 512]))
nodes += [helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
          helper.make_node("ReduceMean", ["ids_f"], ["loss"], keepdims=0)]
graph = helper.make_graph(nodes, "copy_probe", inputs, outputs, [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
