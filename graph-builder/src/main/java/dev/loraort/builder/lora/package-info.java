/**
 * LoRA injection: linear layers of an ONNX graph (MatMul/Gemm on a weight initializer) named by
 * their Hugging Face module path, PEFT's target rules, and the LoRA branch and in-graph random
 * weight perturbation added to each adapted layer.
 */
package dev.loraort.builder.lora;
