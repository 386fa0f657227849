package dev.loraort.builder.ir;

/**
 * What the pattern searches ({@link RmsNorms}, {@link Swishes}) read of a graph: the fused gradient
 * rules give them the forward graph, the bf16 pass the graph it rewrites.
 */
public interface GraphLookup {
  /**
   * @param v a value
   * @return the node that computes it, or null
   */
  Node producer(String v);

  /**
   * @param v a value
   * @return its values if it is a float weight, else null
   */
  double[] floatConstant(String v);

  /**
   * @param v a value
   * @return its values if it is a fixed integer tensor, else null
   */
  long[] constants(String v);

  /**
   * @param v a value
   * @return its rank
   */
  int rank(String v);

  /**
   * @param n a node, or null
   * @param op an ai.onnx op type
   * @return whether n is one
   */
  static boolean is(Node n, String op) {
    return n != null && n.domain().isEmpty() && n.op().equals(op);
  }
}
