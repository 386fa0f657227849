/**
 * Builds lora-graph/1 directories (docs/graph-contract.md) from plain inference ONNX models: the
 * {@code prepare} command's engine. {@link dev.loraort.builder.Prepare} reads a model, injects
 * LoRA, adds a head and loss, differentiates and writes train, infer and train_rwp graphs, and the
 * fused-kernel and bf16 variants of train.
 */
package dev.loraort.builder;
