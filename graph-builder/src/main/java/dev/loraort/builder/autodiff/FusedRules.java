package dev.loraort.builder.autodiff;

import static java.util.Arrays.asList;

import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.RmsNorms;
import dev.loraort.builder.ir.Swishes;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules that write one fused kernel ({@link FusedKernels}) where the ai.onnx rule takes
 * one kernel per elementwise op: GELU, exact (11 ops) or tanh (16 ops), SiLU and QuickGELU (x
 * sigmoid(alpha x), 5 or 7 ops, and the sigmoid kept for them), LayerNormalization over the last
 * axis (11 ops, two reductions) and Softmax over the last axis (4 ops, one reduction), all float32;
 * and the gradient of the library's softmax cross-entropy (a causal LM's loss in train_fused
 * graphs), one kernel. The math is the plain rules' ({@link ElementwiseRules}, {@link NormRules});
 * any other case (another axis or type, tanh GELU, a trainable LayerNorm scale) takes the plain
 * rule.
 */
final class FusedRules {
  private static final Map<String, GradRule> RULES =
      Map.of(
          "Gelu", FusedRules::gelu,
          "LayerNormalization", FusedRules::layerNorm,
          "Softmax", FusedRules::softmax,
          "Mul", FusedRules::mul,
          "Div", FusedRules::rmsNorm);

  /** Rules of the library's own forward ops, which only train_fused graphs hold (the LM loss). */
  private static final Map<String, GradRule> LIBRARY_OPS =
      Map.of(FusedKernels.SOFTMAX_CROSS_ENTROPY, FusedRules::crossEntropy);

  private FusedRules() {}

  /**
   * @param op an op type of the kernel library's domain
   * @return its rule, or null for an op that has no gradient (the library's own gradients)
   */
  static GradRule ofLibraryOp(String op) {
    return LIBRARY_OPS.get(op);
  }

  /**
   * @param op an op type
   * @return its fused rule, or the plain one
   */
  static GradRule get(String op) {
    GradRule plain = GradRules.get(op);
    GradRule fused = RULES.get(op);
    if (fused == null) {
      return plain;
    }
    return (n, g, c) -> {
      List<String> out = fused.grads(n, g, c);
      return out != null ? out : plain.grads(n, g, c);
    };
  }

  private static boolean float32(GradContext c, String v) {
    return c.elem(v) == DataType.FLOAT_VALUE;
  }

  private static boolean lastAxis(Node n, GradContext c, long dflt) {
    int r = c.rank(n.in(0));
    return r > 0 && Shapes.normAxis(n.i("axis", dflt), r) == r - 1;
  }

  private static String kernel(GradContext c, String op, String... inputs) {
    return kernel(c, op, asList(inputs));
  }

  /** One library kernel's output: op on the inputs, with the attributes given. */
  private static String kernel(
      GradContext c, String op, List<String> inputs, AttributeProto... attrs) {
    return c.e().opsIn(FusedKernels.DOMAIN, op, inputs, 1, attrs).get(0);
  }

  /** A Mul: a swish's, or an RMSNorm's product of x by its inverse root; else the plain rule. */
  private static List<String> mul(Node n, List<String> g, GradContext c) {
    List<String> out = swish(n, g, c);
    return out != null ? out : rmsNorm(n, g, c);
  }

  /**
   * An RMSNorm before its weight ({@link RmsNorms}, Qwen2's): x's gradient, through the root too,
   * in one kernel and none for the root, whose chain then keeps nothing for the backward.
   */
  private static List<String> rmsNorm(Node n, List<String> g, GradContext c) {
    RmsNorms.Match m = RmsNorms.match(n, c);
    if (m == null || !float32(c, m.x())) {
      return null;
    }
    List<String> out = new ArrayList<>(asList(null, null));
    out.set(
        m.input(),
        kernel(
            c,
            FusedKernels.RMS_NORM_GRAD,
            asList(g.get(0), m.x()),
            Attr.f("epsilon", m.epsilon())));
    return out;
  }

  /**
   * SiLU or QuickGELU ({@link Swishes}): x's gradient through both factors in one kernel, none for
   * the sigmoid, so the backward keeps neither it nor its derivative's products.
   */
  private static List<String> swish(Node n, List<String> g, GradContext c) {
    Swishes.Match m = Swishes.match(n, c);
    if (m == null || !float32(c, m.x())) {
      return null;
    }
    List<String> out = new ArrayList<>(asList(null, null));
    out.set(
        m.input(),
        kernel(c, FusedKernels.SWISH_GRAD, asList(g.get(0), m.x()), Attr.f("alpha", m.alpha())));
    return out;
  }

  private static List<String> gelu(Node n, List<String> g, GradContext c) {
    String approximate = n.s("approximate", "none");
    if (!float32(c, n.in(0)) || !List.of("none", "tanh").contains(approximate)) {
      return null;
    }
    String op = approximate.equals("tanh") ? FusedKernels.GELU_TANH_GRAD : FusedKernels.GELU_GRAD;
    return asList(kernel(c, op, g.get(0), n.in(0)));
  }

  private static List<String> softmax(Node n, List<String> g, GradContext c) {
    if (!float32(c, n.in(0)) || !lastAxis(n, c, -1)) {
      return null;
    }
    return asList(kernel(c, FusedKernels.SOFTMAX_GRAD, g.get(0), n.out(0)));
  }

  private static List<String> crossEntropy(Node n, List<String> g, GradContext c) {
    String dLogits =
        kernel(
            c,
            FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD,
            asList(g.get(0), n.in(0), n.in(1), n.out(1)),
            Attr.i("shift", n.i("shift", 0)));
    return asList(dLogits, null);
  }

  private static List<String> layerNorm(Node n, List<String> g, GradContext c) {
    String x = n.in(0);
    boolean stashFloat = n.i("stash_type", 1) == DataType.FLOAT_VALUE;
    if (c.needs(1) || c.needs(2) || !float32(c, x) || !stashFloat || !lastAxis(n, c, -1)) {
      return null;
    }
    List<Dim> stat = new ArrayList<>(c.type(x).dims());
    stat.set(stat.size() - 1, Dim.of(1));
    ValueType statType = new ValueType(DataType.FLOAT_VALUE, stat);
    String mean = c.forwardOutput(1, statType);
    String invStd = c.forwardOutput(2, statType);
    return asList(
        kernel(c, FusedKernels.LAYER_NORM_GRAD, g.get(0), x, n.in(1), mean, invStd), null, null);
  }
}
