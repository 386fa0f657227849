/** Merged models: infer.onnx with s B A folded into the base weights and no LoRA inputs left. */
package dev.loraort.artifacts.merged;
