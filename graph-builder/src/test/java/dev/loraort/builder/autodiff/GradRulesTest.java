package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.builder.BuildException;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Every gradient rule against central finite differences in float64 on ONNX Runtime's CPU EP, on
 * shapes that broadcast where the op allows it. Ops without float64 kernels in ONNX Runtime 1.29's
 * CPU EP (Erf, Gelu, LayerNormalization) are checked in float32 with a step and tolerance to match.
 */
class GradRulesTest {
  private static final double TOL64 = 1e-6;
  private static final double TOL32 = 3e-3;

  private static void ok(GradCheck c, Function<Emitter, String> f) throws Exception {
    assertThat(c.check(f)).isLessThan(TOL64);
  }

  private static void ok32(GradCheck c, Function<Emitter, String> f) throws Exception {
    assertThat(c.float32().check(f)).isLessThan(TOL32);
  }

  @Test
  void addSubMulDivBroadcast() throws Exception {
    for (String op : List.of("Add", "Sub", "Mul", "Div")) {
      ok(GradCheck.create().in("a", 2, 3, 4).inRange("b", 0.5, 2, 3, 1), e -> e.op(op, "a", "b"));
      ok(GradCheck.create().inRange("a", 0.5, 2, 4).in("b", 2, 3, 4), e -> e.op(op, "a", "b"));
    }
  }

  @Test
  void sameInputTwice() throws Exception {
    ok(GradCheck.create().in("a", 3, 4), e -> e.mul("a", "a"));
  }

  @Test
  void dynamicUnbroadcastWhenShapesAreSymbolic() throws Exception {
    // b's first dim is a different symbol than a's: only the runtime shapes tell it is 1
    ok(
        GradCheck.create()
            .symbolic("a", new long[] {4, 3}, "n", null)
            .symbolic("b", new long[] {1, 3}, "m", null),
        e -> e.mul("a", "b"));
  }

  @Test
  void unaryOps() throws Exception {
    for (String op :
        List.of("Neg", "Exp", "Tanh", "Sigmoid", "Sin", "Cos", "Identity", "Softplus")) {
      ok(GradCheck.create().in("x", 2, 5), e -> e.op(op, "x"));
    }
    for (String op : List.of("Sqrt", "Log", "Reciprocal")) {
      ok(GradCheck.create().inRange("x", 0.5, 2, 2, 5), e -> e.op(op, "x"));
    }
    ok(GradCheck.create().inRange("x", 0.1, 1, 2, 5), e -> e.op("Relu", "x"));
    ok(GradCheck.create().inRange("x", 0.1, 1, 2, 5), e -> e.op("Abs", e.neg("x")));
  }

  @Test
  void erfAndGeluInFloat32() throws Exception {
    ok32(GradCheck.create().in("x", 2, 5), e -> e.op("Erf", "x"));
    ok32(GradCheck.create().opset(20).inRange("x", -3, 3, 2, 5), e -> e.op("Gelu", "x"));
    ok32(
        GradCheck.create().opset(20).inRange("x", -3, 3, 2, 5),
        e -> e.op("Gelu", List.of("x"), Attr.s("approximate", "tanh")));
  }

  @Test
  void pow() throws Exception {
    ok(GradCheck.create().in("x", 3, 4), e -> e.op("Pow", "x", e.scalar(2, 11)));
    ok(GradCheck.create().inRange("x", 0.5, 2, 3, 4), e -> e.op("Pow", "x", e.scalar(0.5, 11)));
    ok(GradCheck.create().inRange("x", 0.5, 2, 3, 4), e -> e.op("Pow", "x", e.scalar(-1.5, 11)));
    ok(
        GradCheck.create().inRange("x", 0.5, 2, 3, 4).inRange("p", 1, 3, 3, 4),
        e -> e.op("Pow", "x", "p"));
  }

  @Test
  void maxMinWhereClip() throws Exception {
    ok(GradCheck.create().in("a", 3, 4).in("b", 4), e -> e.op("Max", "a", "b"));
    ok(GradCheck.create().in("a", 3, 4).in("b", 3, 1), e -> e.op("Min", "a", "b"));
    ok(
        GradCheck.create().in("a", 3, 4).in("b", 4),
        e -> e.op("Where", e.op("Greater", "a", e.scalar(0, 11)), "a", "b"));
    ok(
        GradCheck.create().inRange("x", -2, 2, 3, 4),
        e -> e.op("Clip", "x", e.scalar(-0.5, 11), e.scalar(0.7, 11)));
  }

  @Test
  void matMulOnAWeightLikeRightOperand() throws Exception {
    ok(GradCheck.create().in("a", 2, 3, 4).in("b", 4, 5), e -> e.op("MatMul", "a", "b"));
    ok(GradCheck.create().in("a", 3, 4).in("b", 4, 5), e -> e.op("MatMul", "a", "b"));
  }

  @Test
  void batchedMatMulWithBroadcastBatchDims() throws Exception {
    ok(GradCheck.create().in("a", 2, 3, 4).in("b", 2, 4, 5), e -> e.op("MatMul", "a", "b"));
    ok(GradCheck.create().in("a", 2, 1, 3, 4).in("b", 3, 4, 2), e -> e.op("MatMul", "a", "b"));
    ok(GradCheck.create().in("a", 3, 4).in("b", 2, 4, 5), e -> e.op("MatMul", "a", "b"));
  }

  @Test
  void symbolicRowsThroughTheGemmView() throws Exception {
    ok(
        GradCheck.create()
            .symbolic("a", new long[] {2, 3, 4}, "batch", "seq", null)
            .symbolic("b", new long[] {4, 5}, null, "r"),
        e -> e.op("MatMul", "a", "b"));
  }

  @Test
  void gemmEveryTransposition() throws Exception {
    for (int ta = 0; ta < 2; ta++) {
      for (int tb = 0; tb < 2; tb++) {
        long[] as = ta == 0 ? new long[] {3, 4} : new long[] {4, 3};
        long[] bs = tb == 0 ? new long[] {4, 5} : new long[] {5, 4};
        int fa = ta;
        int fb = tb;
        ok(
            GradCheck.create().in("a", as).in("b", bs).in("c", 5),
            e ->
                e.op(
                    "Gemm",
                    List.of("a", "b", "c"),
                    Attr.i("transA", fa),
                    Attr.i("transB", fb),
                    Attr.f("alpha", 0.7f),
                    Attr.f("beta", 1.3f)));
      }
    }
    ok(
        GradCheck.create().in("a", 3, 4).in("b", 5, 4).in("c", 3, 5),
        e -> e.op("Gemm", List.of("a", "b", "c"), Attr.i("transB", 1)));
  }

  @Test
  void viewsAndTranspose() throws Exception {
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.reshape("x", e.ints(6, -1)));
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.op("Flatten", List.of("x"), Attr.i("axis", 2)));
    ok(GradCheck.create().in("x", 2, 1, 4), e -> e.op("Squeeze", "x", e.ints(1)));
    ok(GradCheck.create().in("x", 2, 4), e -> e.op("Unsqueeze", "x", e.ints(0, -1)));
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.transpose("x", 2, 0, 1));
    ok(GradCheck.create().in("x", 3, 1), e -> e.op("Expand", "x", e.ints(2, 3, 4)));
  }

  @Test
  void concatAndSplit() throws Exception {
    ok(
        GradCheck.create().in("a", 2, 3).in("b", 2, 1).in("c", 2, 4),
        e -> e.op("Concat", List.of("a", "b", "c"), Attr.i("axis", -1)));
    ok(
        GradCheck.create().in("x", 5, 3),
        e -> e.ops("Split", List.of("x", e.ints(2, 3)), 2, Attr.i("axis", 0)).get(1));
  }

  @Test
  void sliceAsPad() throws Exception {
    ok(
        GradCheck.create().in("x", 4, 6),
        e -> e.op("Slice", "x", e.ints(1, -4), e.ints(3, 1000), e.ints(0, 1)));
    ok(
        GradCheck.create().symbolic("x", new long[] {3, 7}, null, "seq"),
        e -> e.op("Slice", "x", e.ints(1), e.ints(-1), e.ints(1)));
    ok(
        GradCheck.create().symbolic("x", new long[] {3, 7}, null, "seq"),
        e -> e.op("Slice", "x", e.ints(-3), e.ints(Long.MAX_VALUE), e.ints(1)));
  }

  @Test
  void gathers() throws Exception {
    ok(
        GradCheck.create().in("x", 2, 5, 3),
        e -> e.op("Gather", List.of("x", e.int64(0)), Attr.i("axis", 1)));
    ok(
        GradCheck.create().symbolic("x", new long[] {2, 5, 3}, null, "seq", null),
        e -> e.op("Gather", List.of("x", e.int64(-1)), Attr.i("axis", 1)));
    ok(
        GradCheck.create().in("x", 4, 3).ints("i", new long[] {5}, 0, 2, 2, -1, 1),
        e -> e.op("Gather", List.of("x", "i"), Attr.i("axis", 0)));
    ok(
        GradCheck.create().in("x", 3, 4).ints("i", new long[] {2, 2}, 0, 3, 3, 1),
        e -> e.op("Gather", List.of("x", "i"), Attr.i("axis", 1)));
    ok(
        GradCheck.create().in("x", 3, 4).ints("i", new long[] {3, 1}, 1, 3, 0),
        e -> e.op("GatherElements", List.of("x", "i"), Attr.i("axis", 1)));
    // rows picked by (batch, position) pairs, one twice
    ok(
        GradCheck.create().in("x", 2, 5, 3).ints("i", new long[] {3, 2}, 0, 4, 1, 2, 1, 2),
        e -> e.op("GatherND", "x", "i"));
  }

  @Test
  void softmaxFamily() throws Exception {
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.op("Softmax", List.of("x"), Attr.i("axis", -1)));
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.op("Softmax", List.of("x"), Attr.i("axis", 1)));
    ok(
        GradCheck.create().in("x", 2, 3, 4),
        e -> e.op("LogSoftmax", List.of("x"), Attr.i("axis", -1)));
  }

  @Test
  void layerNormalizationInFloat32() throws Exception {
    ok32(
        GradCheck.create().in("x", 2, 3, 8).in("s", 8).in("b", 8),
        e ->
            e.op(
                "LayerNormalization",
                List.of("x", "s", "b"),
                Attr.i("axis", -1),
                Attr.f("epsilon", 1e-5f)));
    ok32(
        GradCheck.create().in("x", 2, 3, 4).in("s", 3, 4),
        e -> e.op("LayerNormalization", List.of("x", "s"), Attr.i("axis", 1)));
  }

  @Test
  void reductions() throws Exception {
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.reduceSum("x", e.ints(1), false));
    ok(GradCheck.create().in("x", 2, 3, 4), e -> e.reduceSum("x", e.ints(0, -1), true));
    ok(
        GradCheck.create().in("x", 2, 3, 4),
        e -> e.op("ReduceMean", List.of("x", e.ints(-1)), Attr.i("keepdims", 1)));
    ok(
        GradCheck.create().symbolic("x", new long[] {2, 3, 4}, null, "seq", null),
        e -> e.op("ReduceMean", List.of("x", e.ints(1)), Attr.i("keepdims", 0)));
  }

  @Test
  void theCheckSeesAOnePercentError() throws Exception {
    double err =
        GradCheck.create().in("x", 3, 4).scaleGradients(1.01).check(e -> e.op("Tanh", "x"));
    assertThat(err).isGreaterThan(0.009).isLessThan(0.011);
  }

  @Test
  void reduceL2() throws Exception {
    ok(
        GradCheck.create().in("x", 2, 3, 4),
        e -> e.op("ReduceL2", List.of("x", e.ints(-1)), Attr.i("keepdims", 1)));
    ok(
        GradCheck.create().in("x", 2, 3, 4),
        e -> e.op("ReduceL2", List.of("x", e.ints(0, 2)), Attr.i("keepdims", 0)));
  }

  @Test
  void anOpWithoutARuleIsNamedWithItsPath() {
    assertThatThrownBy(
            () ->
                GradCheck.create()
                    .in("x", 2, 3)
                    .check(e -> e.op("Exp", e.op("Hardmax", e.op("Tanh", "x")))))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("Hardmax")
        .hasMessageContaining("from x: Tanh -> Hardmax")
        .hasMessageContaining("no gradient rule");
  }
}
