package dev.loraort.trainer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class LossScalerTest {
  static final float FP16_MAX = 65504f;

  /** A graph whose fp16 backward overflows when loss_scale * |gradient| exceeds fp16's range. */
  static Function<Map<String, Tensor>, Map<String, Tensor>> fp16Graph(
      float loss, float[] grad, List<Float> scalesSeen) {
    return feeds -> {
      float s = feeds.get(LossScaler.INPUT).floats()[0];
      scalesSeen.add(s);
      float[] g = new float[grad.length];
      for (int i = 0; i < g.length; i++) {
        float v = s * grad[i];
        g[i] = Math.abs(v) > FP16_MAX ? Float.POSITIVE_INFINITY : v;
      }
      Map<String, Tensor> out = new LinkedHashMap<>();
      out.put(TensorNames.LOSS, Tensor.scalar(loss));
      out.put(TensorNames.grad("x"), Tensor.ofFloats(new long[] {g.length}, g));
      return out;
    };
  }

  @Test
  void overflowRepeatsTheRunAtHalfTheScaleAndUnscalesExactly() {
    LossScaler s = new LossScaler();
    List<Float> seen = new ArrayList<>();
    float[] grad = {3.0f, -0.75f, 1e-3f};
    Map<String, Tensor> out = s.run(fp16Graph(0.5f, grad, seen), Map.of());
    // 65536 * 3 and 32768 * 3 overflow; 16384 * 3 = 49152 fits
    assertThat(seen).containsExactly(65536f, 32768f, 16384f);
    assertThat(s.scale()).isEqualTo(16384);
    assertThat(s.overflows()).isEqualTo(2);
    assertThat(out.get(TensorNames.grad("x")).floats()).containsExactly(grad);
    assertThat(out.get(TensorNames.LOSS).floats()[0]).isEqualTo(0.5f);
  }

  @Test
  void scaleGrowsAfterTheIntervalAndResumesFromItsState() {
    LossScaler s = new LossScaler();
    List<Float> seen = new ArrayList<>();
    Function<Map<String, Tensor>, Map<String, Tensor>> g = fp16Graph(1, new float[] {0.1f}, seen);
    for (int i = 0; i < LossScaler.GROWTH_INTERVAL; i++) {
      s.run(g, Map.of());
    }
    assertThat(s.scale()).isEqualTo(131072);
    s.run(g, Map.of());
    LossScaler resumed = new LossScaler();
    resumed.load(s.state());
    assertThat(resumed.scale()).isEqualTo(131072);
    assertThat(resumed.state().get("good_runs").floats()).containsExactly(1f);
  }

  @Test
  void nonFiniteLossIsReturnedAndEndlessOverflowFails() {
    LossScaler s = new LossScaler();
    List<Float> seen = new ArrayList<>();
    Map<String, Tensor> out = s.run(fp16Graph(Float.NaN, new float[] {1}, seen), Map.of());
    assertThat(out.get(TensorNames.LOSS).floats()[0]).isNaN(); // the step loop reports divergence
    assertThat(seen).hasSize(1);
    assertThatThrownBy(
            () -> s.run(fp16Graph(1, new float[] {Float.POSITIVE_INFINITY}, seen), Map.of()))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining("overflow even at loss scale 1");
  }
}
