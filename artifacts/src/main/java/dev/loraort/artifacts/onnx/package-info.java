/**
 * ONNX files without protobuf-java: initializer-only adapter files ({@code adapter.onnx}) and a
 * reader of any model's initializers, nodes and metadata (onnx.proto field numbers).
 */
package dev.loraort.artifacts.onnx;
