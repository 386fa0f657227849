/**
 * A small mutable graph IR over ONNX protobuf messages: nodes, initializers, typed inputs and
 * outputs; reading and writing ONNX files (external data included); opset normalization; an emitter
 * for new nodes.
 */
package dev.loraort.builder.ir;
