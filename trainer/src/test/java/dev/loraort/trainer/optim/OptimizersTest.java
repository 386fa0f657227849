package dev.loraort.trainer.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.ParamTree;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptimizersTest {
  private static ParamTree tree(float... v) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("w", Tensor.ofFloats(new long[] {v.length}, v.clone()));
    return ParamTree.of(m);
  }

  @Test
  void adamwMatchesHandComputedTwoSteps() {
    double lr = 0.1;
    double wd = 0.01;
    double b1 = 0.9;
    double b2 = 0.999;
    double eps = 1e-8;
    Chain opt = Optimizers.adamw(step -> lr, b1, b2, eps, wd, 0, false);
    ParamTree p = tree(1.0f, -2.0f);
    List<Object> s = opt.init(p);
    double[] g1 = {0.5, -0.25};
    double[] g2 = {-1.0, 0.75};
    double[] m = new double[2];
    double[] v = new double[2];
    double[] want = {1.0, -2.0};
    for (int t = 1; t <= 2; t++) {
      double[] g = t == 1 ? g1 : g2;
      ParamTree u = tree((float) g[0], (float) g[1]);
      s = opt.update(u, s, p);
      p.addScaled(1.0, u);
      for (int i = 0; i < 2; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        double mh = m[i] / (1 - Math.pow(b1, t));
        double vh = v[i] / (1 - Math.pow(b2, t));
        want[i] -=
            lr * (mh / (Math.sqrt(vh) + eps) + wd * want[i]); // decoupled: decay the old weight
      }
      assertThat((double) p.get("w")[0]).isCloseTo(want[0], within(1e-6));
      assertThat((double) p.get("w")[1]).isCloseTo(want[1], within(1e-6));
    }
  }

  @Test
  void clipScalesToTheGlobalNormOnlyWhenAbove() {
    ParamTree g = tree(3f, 4f);
    new ClipByGlobalNorm(1.0).update(g, new ClipByGlobalNorm.State(), g);
    assertThat(g.get("w")).containsExactly(0.6f, 0.8f);
    ParamTree small = tree(0.3f, 0.4f);
    new ClipByGlobalNorm(1.0).update(small, new ClipByGlobalNorm.State(), small);
    assertThat(small.get("w")).containsExactly(0.3f, 0.4f);
  }

  @Test
  void schedulesWarmUpThenDecay() {
    Schedule cos = Schedule.of(Schedule.Kind.COSINE, 1.0, 10, 110);
    assertThat(cos.at(0)).isZero();
    assertThat(cos.at(5)).isCloseTo(0.5, within(1e-12));
    assertThat(cos.at(10)).isCloseTo(1.0, within(1e-12));
    assertThat(cos.at(60)).isCloseTo(0.5, within(1e-12));
    assertThat(cos.at(110)).isCloseTo(0.0, within(1e-12));
    Schedule lin = Schedule.of(Schedule.Kind.LINEAR, 2.0, 0, 100);
    assertThat(lin.at(25)).isCloseTo(1.5, within(1e-12));
    assertThat(Schedule.of(Schedule.Kind.CONSTANT, 3.0, 0, 5).at(4)).isEqualTo(3.0);
    assertThatThrownBy(() -> Schedule.of(Schedule.Kind.COSINE, -1, 0, 5))
        .hasMessageContaining("lr=-1");
  }

  @Test
  void ascentFlipsTheSign() {
    ParamTree g = tree(1f);
    new ScaleByLearningRate(step -> 0.5, true).update(g, new ScaleByLearningRate.State(0), g);
    assertThat(g.get("w")).containsExactly(0.5f);
  }

  @Test
  void chainChecksItsStateCount() {
    Chain c = Chain.of(new ClipByGlobalNorm(1));
    assertThatThrownBy(() -> c.update(tree(1f), List.of(), tree(1f)))
        .hasMessageContaining("got 0 states");
  }

  @Test
  void aChainsStateRoundTripsThroughItsTensorsAndAGapIsAnError() {
    dev.loraort.trainer.params.ParamTree p =
        dev.loraort.trainer.params.ParamTree.of(
            java.util.Map.of(
                "w", dev.loraort.artifacts.Tensor.ofFloats(new long[] {3}, new float[] {1, 2, 3})));
    Chain opt = Optimizers.adamw(step -> 1e-2, 0.9, 0.999, 1e-8, 0.01, 1.0, false);
    java.util.List<Object> s = opt.init(p);
    for (int k = 0; k < 3; k++) {
      dev.loraort.trainer.params.ParamTree g = p.zerosLike();
      g.get("w")[k] = 1;
      s = opt.update(g, s, p);
    }
    java.util.Map<String, dev.loraort.artifacts.Tensor> saved = opt.save(s);
    // clip (stateless), Adam (count and moments), weight decay (stateless), learning rate (count)
    assertThat(saved.keySet()).containsExactly("1.count", "1.mu.w", "1.nu.w", "3.count");
    java.util.List<Object> back = opt.load(opt.init(p), saved);
    assertThat(opt.save(back).get("1.nu.w").floats()).containsExactly(saved.get("1.nu.w").floats());
    assertThat(opt.save(back).get("3.count").longs()).containsExactly(3);
    java.util.Map<String, dev.loraort.artifacts.Tensor> gap = new java.util.HashMap<>(saved);
    gap.remove("1.mu.w");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> opt.load(opt.init(p), gap))
        .hasMessageContaining("optimizer state: mu.w is missing");
  }
}
