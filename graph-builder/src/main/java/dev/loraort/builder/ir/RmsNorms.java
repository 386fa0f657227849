package dev.loraort.builder.ir;

/**
 * An RMSNorm before its weight, x over the root of mean(x^2) + epsilon along the last axis, as
 * exporters write it: {@code Mul(x, Reciprocal(S))} (torch.onnx's dynamo exporter), {@code Mul(x,
 * Div(1, S))} (TorchScript) or {@code Div(x, S)}, with {@code S = Sqrt(Add(ReduceMean(Pow(x, 2)),
 * epsilon))}. Found from its last node, by the fused gradient rule and by the bf16 pass alike.
 */
public final class RmsNorms {
  /**
   * @param input which input of the last node is x
   * @param x the normalized value
   * @param epsilon the epsilon under the root
   */
  public record Match(int input, String x, float epsilon) {}

  private RmsNorms() {}

  /**
   * @param n a node
   * @param g the graph it is in
   * @return n as an RMSNorm's last node, or null
   */
  public static Match match(Node n, GraphLookup g) {
    boolean div = GraphLookup.is(n, "Div");
    if (!div && !GraphLookup.is(n, "Mul")) {
      return null;
    }
    for (int k = 0; k < (div ? 1 : 2); k++) {
      String x = n.in(k);
      Node root = div ? g.producer(n.in(1)) : rootInverted(g, n.in(1 - k));
      Double epsilon = root == null ? null : epsilon(g, root, x);
      if (epsilon != null) {
        return new Match(k, x, epsilon.floatValue());
      }
    }
    return null;
  }

  /** S where {@code r} is {@code Reciprocal(S)} or {@code Div(1, S)}, or null. */
  private static Node rootInverted(GraphLookup g, String r) {
    Node p = g.producer(r);
    if (GraphLookup.is(p, "Reciprocal")) {
      return g.producer(p.in(0));
    }
    double[] one = GraphLookup.is(p, "Div") ? g.floatConstant(p.in(0)) : null;
    return one != null && one.length == 1 && one[0] == 1 ? g.producer(p.in(1)) : null;
  }

  /** epsilon where {@code root} is {@code Sqrt(Add(ReduceMean(Pow(x, 2)), epsilon))}, or null. */
  private static Double epsilon(GraphLookup g, Node root, String x) {
    Node add = GraphLookup.is(root, "Sqrt") ? g.producer(root.in(0)) : null;
    if (!GraphLookup.is(add, "Add")) {
      return null;
    }
    for (int k = 0; k < 2; k++) {
      Node mean = g.producer(add.in(k));
      double[] epsilon = g.floatConstant(add.in(1 - k));
      if (!GraphLookup.is(mean, "ReduceMean") || epsilon == null || epsilon.length != 1) {
        continue;
      }
      long[] axes = mean.inputs().size() > 1 ? g.constants(mean.in(1)) : null;
      int rank = g.rank(x);
      boolean lastAxis = axes != null && axes.length == 1 && (axes[0] == -1 || axes[0] == rank - 1);
      Node pow = g.producer(mean.in(0));
      double[] two = GraphLookup.is(pow, "Pow") ? g.floatConstant(pow.in(1)) : null;
      if (lastAxis
          && mean.i("keepdims", 1) == 1
          && pow.in(0).equals(x)
          && two != null
          && two.length == 1
          && two[0] == 2) {
        return epsilon[0];
      }
    }
    return null;
  }
}
