/** The LoRA trainer: the step loop on ONNX Runtime, its methods, optimizers, data and CLI. */
package dev.loraort.trainer;
