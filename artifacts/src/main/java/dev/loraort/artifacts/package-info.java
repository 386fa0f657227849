/**
 * Model directories and adapter files: the tensor value type, contract tensor names, and one codec
 * per file format. Nothing here knows the step loop or ONNX Runtime.
 */
package dev.loraort.artifacts;
