/**
 * The protobuf wire format by hand, for the few messages this project writes and reads (ONNX models
 * and adapters, TensorBoard events), without protobuf-java.
 */
package dev.loraort.artifacts.protobuf;
