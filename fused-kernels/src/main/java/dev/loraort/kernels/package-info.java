/**
 * Fused backward kernels for ONNX Runtime: the custom-op library (C for the CPU, CUDA C compiled at
 * run time by NVRTC for GPUs) and the names of its ops, which the graph builder writes into
 * train_fused.onnx.
 */
package dev.loraort.kernels;
