/**
 * Small dense linear algebra on OpenBLAS for the methods' host-side math: products, pseudo-inverses
 * of r x r Gram matrices, the low-rank FMLoRA/EFlat quantities (docs/methods.md section 8). Knows
 * nothing of ONNX. Never forms an n x m matrix.
 */
package dev.loraort.linalg;
