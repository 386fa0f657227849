package dev.loraort.builder.autodiff;

import dev.loraort.builder.ir.Node;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The registry: op type to gradient rule, and which inputs of an op carry a gradient at all (a
 * Reshape's shape, a Gather's indices and a Where's condition do not; Shape, Range or EyeLike
 * outputs depend on no input's values).
 */
public final class GradRules {
  private static final Map<String, GradRule> RULES = new HashMap<>();

  static {
    ElementwiseRules.register(RULES);
    ShapeRules.register(RULES);
    LinearRules.register(RULES);
    NormRules.register(RULES);
  }

  /** Ops whose outputs depend on no input's values, or whose derivative is zero everywhere. */
  private static final Set<String> CONSTANT_OUTPUT =
      Set.of(
          "Shape",
          "Size",
          "EyeLike",
          "RandomNormalLike",
          "RandomUniformLike",
          "ConstantOfShape",
          "Range",
          "ArgMax",
          "ArgMin",
          "Equal",
          "Less",
          "Greater",
          "LessOrEqual",
          "GreaterOrEqual",
          "Not",
          "And",
          "Or",
          "Xor",
          "IsNaN",
          "IsInf",
          "NonZero",
          "Floor",
          "Ceil",
          "Round",
          "Sign",
          "OneHot",
          "TopK",
          "Mod",
          "Bernoulli",
          "Multinomial",
          "RandomNormal",
          "RandomUniform",
          "Constant");

  /** Ops with only their first input differentiable. */
  private static final Set<String> FIRST_ONLY =
      Set.of(
          "Reshape",
          "Expand",
          "Tile",
          "Unsqueeze",
          "Squeeze",
          "Split",
          "Slice",
          "Gather",
          "GatherElements",
          "GatherND",
          "Pad",
          "ReduceSum",
          "ReduceMean",
          "ReduceMax",
          "ReduceMin",
          "ReduceProd",
          "ReduceL1",
          "ReduceL2",
          "ReduceLogSum",
          "ReduceLogSumExp",
          "ReduceSumSquare",
          "CumSum",
          "Clip",
          "Resize",
          "Dropout",
          "Trilu");

  private GradRules() {}

  /**
   * @param op an op type
   * @return its rule, or null when there is none
   */
  public static GradRule get(String op) {
    return RULES.get(op);
  }

  /**
   * @return the op types that have a rule
   */
  public static Set<String> ops() {
    return Set.copyOf(RULES.keySet());
  }

  /**
   * @param n a node
   * @param i an input index
   * @return true if a gradient can flow from n's outputs into input i
   */
  public static boolean differentiable(Node n, int i) {
    String op = n.op();
    if (CONSTANT_OUTPUT.contains(op)) {
      return false;
    }
    if (FIRST_ONLY.contains(op)) {
      return i == 0;
    }
    switch (op) {
      case "Where":
        return i > 0;
      case "ScatterElements":
      case "ScatterND":
        return i != 1;
      default:
        return true;
    }
  }
}
