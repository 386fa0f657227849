/**
 * ONNX Runtime's LoRA adapter format ({@code .onnx_adapter}: flatbuffers, identifier TORT, format
 * version 1), which {@code OrtLoraAdapter} and {@code RunOptions.addActiveLoraAdapter} apply to a
 * graph that takes the adapter's tensors as inputs.
 */
package dev.loraort.artifacts.ortadapter;
