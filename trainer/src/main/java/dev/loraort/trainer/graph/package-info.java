/**
 * ONNX Runtime sessions over the graphs of a model directory: device selection (CPU or CUDA EP),
 * manifest-versus-graph checks, and host tensor feeds. The only package that touches ONNX Runtime.
 */
package dev.loraort.trainer.graph;
