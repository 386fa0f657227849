package dev.loraort.builder.autodiff;

import dev.loraort.builder.ir.Node;
import java.util.List;

/**
 * The gradient rule of one op type: the gradients of a node's inputs from those of its outputs,
 * written as new ai.onnx nodes through the context. A rule builds only what {@link
 * GradContext#needs} asks for.
 */
@FunctionalInterface
public interface GradRule {
  /**
   * @param n the forward node
   * @param outGrads the gradient of each output (null where an output has none)
   * @param c where the rule emits nodes, with the forward graph's shapes
   * @return the gradient of each input (null where it needs none); shorter lists mean null for the
   *     rest
   */
  List<String> grads(Node n, List<String> outGrads, GradContext c);
}
