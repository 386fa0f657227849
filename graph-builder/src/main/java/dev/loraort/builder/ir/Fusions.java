package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.builder.shape.Shapes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Puts back the ops exporters decompose, so the backward is written from the op's own rule rather
 * than from its pieces: LayerNormalization from ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add
 * (TorchScript and Optimum exports below opset 17: MiniLM, BGE, E5), and the exact GELU from
 * Div/Erf/Add/Mul/Mul (every torch exporter). The math is the same; the fused backward takes fewer
 * elementwise passes and reuses the forward's statistics.
 */
public final class Fusions {
  /** The opset that has Gelu. */
  public static final int GELU_OPSET = 20;

  private static final double TOL = 1e-6;
  private static final double GELU_TANH_C = 0.044715;

  private Fusions() {}

  /**
   * Fuses in place.
   *
   * @param g a normalized, topologically sorted graph
   * @param s its shapes (for the reduction axes)
   * @return how many LayerNorms and GELUs were fused
   */
  public static int[] apply(Graph g, Shapes s) {
    int ln = layerNorms(g, s);
    int gelu = gelus(g) + tanhGelus(g);
    if (gelu > 0 && g.opset() < GELU_OPSET) {
      g.setOpset(GELU_OPSET); // opsets 19 and 20 change nothing these graphs rely on
    }
    g.removeDeadNodes();
    return new int[] {ln, gelu};
  }

  private static int layerNorms(Graph g, Shapes s) {
    int fused = 0;
    for (Node mean : new ArrayList<>(g.nodes())) {
      if (!mean.op().equals("ReduceMean") || !lastAxisOnly(mean, s)) {
        continue;
      }
      Map<String, List<Node>> uses = uses(g);
      String x = mean.in(0);
      Node sub = only(uses, mean.out(0), "Sub");
      if (sub == null || !sub.in(0).equals(x) || !sub.in(1).equals(mean.out(0))) {
        continue;
      }
      List<Node> subUses = uses.getOrDefault(sub.out(0), List.of());
      Node pow = find(subUses, "Pow");
      Node div = find(subUses, "Div");
      if (subUses.size() != 2
          || pow == null
          || div == null
          || !div.in(0).equals(sub.out(0))
          || !isConst(g, pow.in(1), 2)) {
        continue;
      }
      Node var = only(uses, pow.out(0), "ReduceMean");
      if (var == null || !lastAxisOnly(var, s)) {
        continue;
      }
      Node add = only(uses, var.out(0), "Add");
      double[] eps = add == null ? null : constant(g, other(add, var.out(0)));
      if (eps == null || eps.length != 1) {
        continue;
      }
      Node sqrt = only(uses, add.out(0), "Sqrt");
      if (sqrt == null || !div.in(1).equals(sqrt.out(0)) || single(uses, sqrt.out(0)) == null) {
        continue;
      }
      Node mul = only(uses, div.out(0), "Mul");
      String gamma = mul == null ? null : other(mul, div.out(0));
      Node bias = mul == null ? null : only(uses, mul.out(0), "Add");
      String beta = bias == null ? null : other(bias, mul.out(0));
      if (!isVector(g, gamma) || !isVector(g, beta)) {
        continue;
      }
      Node ln =
          new Node(
              "LayerNormalization",
              "",
              mean.rawName(),
              List.of(x, gamma, beta),
              List.of(bias.out(0)),
              Map.of("axis", Attr.i("axis", -1), "epsilon", Attr.f("epsilon", (float) eps[0])));
      replace(g, bias, ln, Set.of(mean, sub, pow, var, add, sqrt, div, mul, bias));
      fused++;
    }
    return fused;
  }

  private static int gelus(Graph g) {
    int fused = 0;
    for (Node erf : new ArrayList<>(g.nodes())) {
      if (!erf.op().equals("Erf")) {
        continue;
      }
      Map<String, Node> producer = g.producers();
      Map<String, List<Node>> uses = uses(g);
      Node scale = producer.get(erf.in(0));
      if (scale == null || single(uses, scale.out(0)) == null) {
        continue;
      }
      String x;
      if (scale.op().equals("Div") && isConst(g, scale.in(1), Math.sqrt(2))) {
        x = scale.in(0);
      } else if (scale.op().equals("Mul") && isConst(g, scale.in(1), 1 / Math.sqrt(2))) {
        x = scale.in(0);
      } else if (scale.op().equals("Mul") && isConst(g, scale.in(0), 1 / Math.sqrt(2))) {
        x = scale.in(1);
      } else {
        continue;
      }
      Node plus = only(uses, erf.out(0), "Add");
      if (plus == null || !isConst(g, other(plus, erf.out(0)), 1)) {
        continue;
      }
      // the remaining product x * 0.5 * (1 + erf): two Muls, factors in any order
      Node m1 = only(uses, plus.out(0), "Mul");
      Node m2 = m1 == null ? null : only(uses, m1.out(0), "Mul");
      if (m1 == null || m2 == null) {
        continue;
      }
      List<String> factors = new ArrayList<>(List.of(other(m1, plus.out(0)), other(m2, m1.out(0))));
      boolean half = factors.removeIf(f -> isConst(g, f, 0.5));
      if (!half || factors.size() != 1 || !factors.get(0).equals(x)) {
        continue;
      }
      Node gelu = new Node("Gelu", "", erf.rawName(), List.of(x), List.of(m2.out(0)), Map.of());
      replace(g, m2, gelu, Set.of(scale, erf, plus, m1, m2));
      fused++;
    }
    return fused;
  }

  /**
   * GELU's tanh approximation as PyTorch writes it (GPT-2's gelu_new): 0.5 x (1 + tanh(k (x + a
   * x^3))) with k = sqrt(2 / pi), a = 0.044715; the half taken of x first or of the product.
   */
  private static int tanhGelus(Graph g) {
    int fused = 0;
    for (Node tanh : new ArrayList<>(g.nodes())) {
      if (!tanh.op().equals("Tanh")) {
        continue;
      }
      Map<String, Node> producer = g.producers();
      Map<String, List<Node>> uses = uses(g);
      Node scale = singleUse(producer, uses, tanh.in(0), "Mul");
      if (scale == null) {
        continue;
      }
      String innerV = constOperand(g, scale, Math.sqrt(2 / Math.PI));
      Node inner = singleUse(producer, uses, innerV, "Add");
      if (inner == null) {
        continue;
      }
      Set<Node> pattern = new HashSet<>(List.of(tanh, scale, inner));
      String x = null;
      for (int side = 0; side < 2 && x == null; side++) {
        Node cubic = singleUse(producer, uses, inner.in(side), "Mul");
        String powV = cubic == null ? null : constOperand(g, cubic, GELU_TANH_C);
        Node pow = singleUse(producer, uses, powV, "Pow");
        if (pow != null && isConst(g, pow.in(1), 3) && pow.in(0).equals(inner.in(1 - side))) {
          pattern.addAll(List.of(cubic, pow));
          x = pow.in(0);
        }
      }
      Node plus = only(uses, tanh.out(0), "Add");
      Node out = plus == null ? null : only(uses, plus.out(0), "Mul");
      if (x == null || out == null || !isConst(g, other(plus, tanh.out(0)), 1)) {
        continue;
      }
      Node half = singleUse(producer, uses, other(out, plus.out(0)), "Mul");
      Node last;
      if (half != null && x.equals(constOperand(g, half, 0.5))) {
        pattern.add(half); // (0.5 x) (1 + t)
        last = out;
      } else {
        Node m2 = only(uses, out.out(0), "Mul"); // ((1 + t) f1) f2 with {f1, f2} = {x, 0.5}
        List<String> factors =
            m2 == null
                ? List.of()
                : new ArrayList<>(List.of(other(out, plus.out(0)), other(m2, out.out(0))));
        if (m2 == null
            || !factors.removeIf(f -> isConst(g, f, 0.5))
            || !factors.equals(List.of(x))) {
          continue;
        }
        last = m2;
      }
      pattern.addAll(List.of(plus, out, last));
      Node gelu =
          new Node(
              "Gelu",
              "",
              tanh.rawName(),
              List.of(x),
              List.of(last.out(0)),
              Map.of("approximate", Attr.s("approximate", "tanh")));
      replace(g, last, gelu, pattern);
      fused++;
    }
    return fused;
  }

  /** The node making v if it is a {@code op} read only once, else null. */
  private static Node singleUse(
      Map<String, Node> producer, Map<String, List<Node>> uses, String v, String op) {
    Node p = v == null ? null : producer.get(v);
    return p != null && p.op().equals(op) && single(uses, v) != null ? p : null;
  }

  /** The other operand of a binary node one of whose operands is the constant c, else null. */
  private static String constOperand(Graph g, Node n, double c) {
    if (isConst(g, n.in(1), c)) {
      return n.in(0);
    }
    return isConst(g, n.in(0), c) ? n.in(1) : null;
  }

  /** Each value's readers; a graph output counts as one more (its value must survive). */
  private static Map<String, List<Node>> uses(Graph g) {
    Map<String, List<Node>> u = g.consumers();
    Node output = new Node("GraphOutput", "", "", List.of(), List.of(), Map.of());
    g.outputs().forEach(v -> u.computeIfAbsent(v.getName(), k -> new ArrayList<>()).add(output));
    return u;
  }

  /** Puts {@code fused} where {@code last} was and drops the pattern's other nodes. */
  private static void replace(Graph g, Node last, Node fused, Set<Node> pattern) {
    int at = g.nodes().indexOf(last);
    g.nodes().set(at, fused);
    Set<Node> drop = new HashSet<>(pattern);
    drop.remove(last);
    g.nodes().removeAll(drop);
  }

  private static boolean lastAxisOnly(Node reduce, Shapes s) {
    long[] axes = reduce.hasIn(1) ? s.constants(reduce.in(1)) : null;
    int r = s.rank(reduce.in(0));
    return axes != null
        && axes.length == 1
        && (axes[0] == -1 || axes[0] == r - 1)
        && reduce.i("keepdims", 1) != 0;
  }

  private static Node only(Map<String, List<Node>> uses, String v, String op) {
    Node n = single(uses, v);
    return n != null && n.op().equals(op) ? n : null;
  }

  private static Node single(Map<String, List<Node>> uses, String v) {
    List<Node> u = uses.getOrDefault(v, List.of());
    return u.size() == 1 ? u.get(0) : null;
  }

  private static Node find(List<Node> nodes, String op) {
    return nodes.stream().filter(n -> n.op().equals(op)).findFirst().orElse(null);
  }

  private static String other(Node n, String v) {
    return n.in(0).equals(v) ? n.in(1) : n.in(0);
  }

  private static double[] constant(Graph g, String v) {
    TensorProto t = g.initializers().get(v);
    return t == null || !Tensors.isFloat(t.getDataType()) || Tensors.numel(t) > 1
        ? null
        : Tensors.doubles(t);
  }

  private static boolean isConst(Graph g, String v, double want) {
    double[] c = constant(g, v);
    return c != null && c.length == 1 && Math.abs(c[0] - want) <= TOL * Math.max(1, Math.abs(want));
  }

  private static boolean isVector(Graph g, String v) {
    TensorProto t = v == null ? null : g.initializers().get(v);
    return t != null && t.getDimsCount() == 1 && Tensors.isFloat(t.getDataType());
  }
}
