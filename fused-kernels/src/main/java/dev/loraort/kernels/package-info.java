/**
 * Fused backward kernels for ONNX Runtime: the custom-op library (C for the CPU, CUDA C compiled at
 * run time by NVRTC for GPUs) and the names of its ops, which the graph builder writes into
 * train_fused.onnx; and {@link dev.loraort.kernels.BoundRun}, the same library's JNI half, which
 * binds a session's inputs and outputs to fixed memory (ONNX Runtime's IoBinding, absent from its
 * Java API) so that the CUDA EP can replay a step as a CUDA graph.
 */
package dev.loraort.kernels;
