package dev.loraort.builder.ir;

/**
 * SiLU and QuickGELU as exporters write them, {@code Mul(x, Sigmoid(alpha x))}: alpha 1 is {@code
 * Sigmoid(x)} (SiLU), otherwise x is scaled by a scalar weight, {@code Mul(x, a)} (CLIP's
 * QuickGELU, 1.702) or {@code Div(x, d)}. Found from the outer product, by the fused gradient rule
 * and by the bf16 pass alike.
 */
public final class Swishes {
  /**
   * @param input which input of the outer product is x
   * @param x the activation's input
   * @param sigmoid the Sigmoid node
   * @param scaled the node that scales x before the sigmoid, or null (alpha 1)
   * @param alpha the scale
   */
  public record Match(int input, String x, Node sigmoid, Node scaled, float alpha) {}

  private Swishes() {}

  /**
   * @param n a node
   * @param g the graph it is in
   * @return n as a swish's outer product, or null
   */
  public static Match match(Node n, GraphLookup g) {
    if (!GraphLookup.is(n, "Mul")) {
      return null;
    }
    for (int k = 0; k < 2; k++) {
      String x = n.in(k);
      Node sigmoid = g.producer(n.in(1 - k));
      if (!GraphLookup.is(sigmoid, "Sigmoid")) {
        continue;
      }
      if (sigmoid.in(0).equals(x)) {
        return new Match(k, x, sigmoid, null, 1f);
      }
      Node scaled = g.producer(sigmoid.in(0));
      Double alpha = scaleOf(g, scaled, x);
      if (alpha != null) {
        return new Match(k, x, sigmoid, scaled, alpha.floatValue());
      }
    }
    return null;
  }

  /** a where {@code n} is {@code Mul(x, a)} (either order) or {@code Div(x, 1 / a)}, or null. */
  private static Double scaleOf(GraphLookup g, Node n, String x) {
    boolean div = GraphLookup.is(n, "Div");
    if (!div && !GraphLookup.is(n, "Mul")) {
      return null;
    }
    for (int k = div ? 1 : 0; k < 2; k++) { // k: the scalar's side (a Div's is its divisor)
      double[] a = n.in(1 - k).equals(x) ? g.floatConstant(n.in(k)) : null;
      if (a != null && a.length == 1) {
        return div ? 1 / a[0] : a[0];
      }
    }
    return null;
  }
}
