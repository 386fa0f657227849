/**
 * Reverse-mode differentiation written in standard ai.onnx ops: one {@link
 * dev.loraort.builder.autodiff.GradRule} per op type, found in {@link
 * dev.loraort.builder.autodiff.GradRules}, and the backward walk in {@link
 * dev.loraort.builder.autodiff.Backward}.
 */
package dev.loraort.builder.autodiff;
