package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The recomputed probabilities give the gradients finite differences give, and only attention's
 * softmax (a product of two activations) is recomputed: not one over a product with a weight, such
 * as a vocabulary's logits, which would repeat a large product. The families' real exports are
 * checked against PyTorch in PrepareConformanceTest.
 */
class AttentionRecomputeTest {
  /** Attention over [batch 2, heads 2, 3 tokens, head size 2], from projections of x. */
  private static String attention(Emitter e) {
    String q = heads(e, e.op("MatMul", "x", "wq"), 0, 2, 1, 3);
    String kt = heads(e, e.op("MatMul", "x", "wk"), 0, 2, 3, 1);
    String v = heads(e, e.op("MatMul", "x", "wv"), 0, 2, 1, 3);
    String scores =
        e.add(e.div(e.op("MatMul", q, kt), e.scalar(Math.sqrt(2), DataType.DOUBLE_VALUE)), "mask");
    return e.op("MatMul", e.op("Softmax", List.of(scores), Attr.i("axis", -1)), v);
  }

  private static String heads(Emitter e, String projected, long... perm) {
    return e.transpose(e.reshape(projected, e.ints(2, 3, 2, 2)), perm);
  }

  @Test
  void recomputedProbabilitiesGiveTheSameGradients() throws Exception {
    GradCheck c =
        GradCheck.create()
            .in("x", 2, 3, 4)
            .in("wq", 4, 4)
            .in("wk", 4, 4)
            .in("wv", 4, 4)
            .in("mask", 2, 1, 1, 3)
            .recomputeAttention();
    assertThat(c.check(AttentionRecomputeTest::attention)).isLessThan(1e-6);
    assertThat(c.recomputed()).isEqualTo(1);
  }

  @Test
  void aSoftmaxOverAProductWithAWeightIsNotRecomputed() throws Exception {
    GradCheck c = GradCheck.create().in("x", 2, 3, 4).in("w", 4, 5).recomputeAttention();
    c.check(
        e -> e.op("Softmax", List.of(e.op("MatMul", e.op("Tanh", "x"), "w")), Attr.i("axis", -1)));
    assertThat(c.recomputed()).isZero();
  }
}
