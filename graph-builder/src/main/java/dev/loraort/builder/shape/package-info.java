/**
 * Static shape and type inference with symbolic dimensions ({@code batch}, {@code seq}), and the
 * values of small integer tensors (shape arithmetic), as the gradient rules need them.
 */
package dev.loraort.builder.shape;
