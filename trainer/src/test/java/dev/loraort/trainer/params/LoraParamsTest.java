package dev.loraort.trainer.params;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.LoraPatterns;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.ModelGraphs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LoraParamsTest {
  private static final Path TINY = Path.of("../onnx-models/tiny-roberta-cls");

  @Test
  void peftInitIsKaimingUniformAAndZeroB() throws IOException {
    Manifest m = Manifest.read(TINY);
    LoraParams p = LoraParams.init(m, 8, 2f, new SplittableRandom(7));
    assertThat(p.scale()).isEqualTo(2f);
    for (Manifest.LoraModule mod : m.lora().modules()) {
      float[] a = p.tree().get(TensorNames.loraA(mod.name()));
      float bound = (float) (1 / Math.sqrt(mod.in()));
      assertThat(a).hasSize(8 * mod.in());
      double max = 0;
      for (float x : a) {
        max = Math.max(max, Math.abs(x));
      }
      assertThat(max).isLessThanOrEqualTo(bound);
      assertThat(max)
          .isGreaterThan(0.9 * bound); // spread over the whole interval, not a narrow draw
      assertThat(p.tree().get(TensorNames.loraB(mod.name()))).containsOnly(0f);
    }
    assertThat(p.tree().names()).contains("classifier.out_proj.weight");
    LoraParams same = LoraParams.init(m, 8, 2f, new SplittableRandom(7));
    LoraParams other = LoraParams.init(m, 8, 2f, new SplittableRandom(8));
    String a0 = TensorNames.loraA(m.lora().modules().get(0).name());
    assertThat(same.tree().get(a0)).isEqualTo(p.tree().get(a0));
    assertThat(other.tree().get(a0)).isNotEqualTo(p.tree().get(a0));
  }

  @Test
  void givenTensorsMustFitTheModel() throws IOException {
    Manifest m = Manifest.read(TINY);
    Map<String, Tensor> t = LoraParams.init(m, 4, 2f, new SplittableRandom(1)).tree().tensors();
    String b0 = TensorNames.loraB(m.lora().modules().get(0).name());
    t.put(b0, Tensor.ofFloats(new long[] {64, 5}, new float[64 * 5]));
    assertThatThrownBy(() -> LoraParams.of(m, t, 2f, "x.onnx"))
        .hasMessageContaining("x.onnx: " + b0)
        .hasMessageContaining("[64, 5]")
        .hasMessageContaining("expected [64, 4]");
    t.remove(b0);
    assertThatThrownBy(() -> LoraParams.of(m, t, 2f, "x.onnx"))
        .hasMessageContaining("no tensor " + b0);
  }

  private static final String Q0 = "roberta.encoder.layer.0.attention.self.query";
  private static final String Q1 = "roberta.encoder.layer.1.attention.self.query";

  /** The train graph's loss and gradients at these feeds (the fixture's batch). */
  private static Map<String, Tensor> run(ModelGraphs g, Fixture fx, Map<String, Tensor> params) {
    List<String> outs =
        ModelGraphs.trainOutputs(
            params.keySet().stream().filter(n -> !n.equals(TensorNames.LORA_SCALE)).toList());
    return g.train().run(ModelGraphs.feeds(fx.batch(), params, Map.of()), outs);
  }

  /** B ~ U(-1, 1) in place (at B = 0 the gradients of A vanish and the adapter does nothing). */
  private static LoraParams randomB(LoraParams p) {
    SplittableRandom rng = new SplittableRandom(5);
    for (String mod : p.modules()) {
      float[] b = p.tree().get(TensorNames.loraB(mod));
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) (rng.nextDouble() * 2 - 1);
      }
    }
    return p;
  }

  /** An adapter's scaling: r, alpha and the patterns, through the code every format uses. */
  private static AdapterWeights scaling(int r, double alpha, LoraPatterns patterns) {
    return new AdapterWeights(Map.of(), r, alpha, (float) (alpha / r), false, patterns, Map.of());
  }

  /**
   * A module narrower than the widest is fed zero-padded (ONNX Runtime's memory planner takes the
   * inputs sharing lora_r to have one rank), its gradients cut back to its rank; the widest module
   * at the default scale is fed its own arrays.
   */
  @Test
  void narrowModulesAreFedPaddedAndTheirGradientsCutBack() throws IOException {
    Manifest m = Manifest.read(TINY);
    LoraPatterns patterns =
        new LoraPatterns(Map.of("layer.0.attention.self.query", 2), Map.of("query", 4.0));
    LoraParams p = randomB(LoraParams.init(m, scaling(8, 16, patterns), new SplittableRandom(3)));
    assertThat(p.scale(Q0)).isEqualTo(2f); // 4 / 2: the default, so only padded
    Map<String, Tensor> f = p.feeds();
    String a0 = TensorNames.loraA(Q0);
    String b0 = TensorNames.loraB(Q0);
    assertThat(f.get(a0).shape()).containsExactly(8, 64);
    assertThat(f.get(b0).shape()).containsExactly(64, 8);
    float[] a = f.get(a0).floats();
    float[] b = f.get(b0).floats();
    for (int k = 0; k < 8; k++) {
      for (int j = 0; j < 64; j++) {
        assertThat(a[k * 64 + j]).isEqualTo(k < 2 ? p.tree().get(a0)[k * 64 + j] : 0f);
        assertThat(b[j * 8 + k]).isEqualTo(k < 2 ? p.tree().get(b0)[j * 2 + k] : 0f);
      }
    }
    String b1 = TensorNames.loraB(Q1); // rank 8, alpha 4: s = 0.5, folded by 1/4
    assertThat(f.get(b1).floats()[0]).isEqualTo(p.tree().get(b1)[0] * 0.25f);
    String a1 = TensorNames.loraA(Q1);
    assertThat(f.get(a1).floats()).isSameAs(p.tree().get(a1));
    String bv = TensorNames.loraB("roberta.encoder.layer.0.attention.self.value");
    assertThat(f.get(bv).floats()).isSameAs(p.tree().get(bv));

    Map<String, Tensor> graphOut = new LinkedHashMap<>();
    float[] ga = new float[8 * 64];
    float[] gb = new float[64 * 8];
    java.util.Arrays.fill(ga, 1f);
    java.util.Arrays.fill(gb, 1f);
    gb[8] = 3f; // row 1, column 0
    graphOut.put(TensorNames.grad(a0), Tensor.ofFloats(new long[] {8, 64}, ga));
    graphOut.put(TensorNames.grad(b0), Tensor.ofFloats(new long[] {64, 8}, gb));
    graphOut.put(TensorNames.grad(b1), Tensor.ofFloats(new long[] {64, 8}, gb.clone()));
    Map<String, Tensor> g = p.trueGradients(graphOut, Map.of());
    assertThat(g.get(TensorNames.grad(a0)).shape()).containsExactly(2, 64);
    assertThat(g.get(TensorNames.grad(b0)).shape()).containsExactly(64, 2);
    assertThat(g.get(TensorNames.grad(b0)).floats()[2]).isEqualTo(3f);
    assertThat(g.get(TensorNames.grad(b1)).floats()[8]).isEqualTo(0.75f);
    assertThat(graphOut.get(TensorNames.grad(b1)).floats()[8]).as("input untouched").isEqualTo(3f);
  }

  /**
   * Folding s_m into B at the boundary: with alpha_pattern giving every module 3 alpha, the fed
   * lora_scale stays alpha / r, each B is fed times 3 and its graph gradient is multiplied by 3;
   * loss and gradients are then those of the graph fed lora_scale = 3 alpha / r directly.
   */
  @Test
  void aFoldedScaleGivesTheLossAndGradientsOfThatScaleFedDirectly() throws IOException {
    Manifest m = Manifest.read(TINY);
    Fixture fx = Fixture.read(m.dir());
    LoraParams folded =
        LoraParams.of(
            m,
            fx.params(),
            scaling(8, 16, new LoraPatterns(Map.of(), Map.of("query|value", 48.0))),
            "fixture");
    LoraParams direct = LoraParams.of(m, fx.params(), 6f, "fixture");
    assertThat(folded.scale()).isEqualTo(2f);
    assertThat(folded.scale(Q0)).isEqualTo(6f);
    String a0 = TensorNames.loraA(Q0);
    assertThat(folded.feeds().get(a0).floats())
        .as("an A is fed as it is, the same array")
        .isSameAs(folded.tree().get(a0));
    try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false)) {
      Map<String, Tensor> got = folded.trueGradients(run(g, fx, folded.feeds()), Map.of());
      Map<String, Tensor> want = run(g, fx, direct.feeds());
      assertThat(got.get(TensorNames.LOSS).floats()[0])
          .isCloseTo(want.get(TensorNames.LOSS).floats()[0], within(1e-6f));
      for (String n : folded.tree().names()) {
        Tensor w = want.get(TensorNames.grad(n));
        assertThat(got.get(TensorNames.grad(n)).maxErrorOfMax(w)).as(n).isLessThan(1e-5);
      }
    }
  }

  /**
   * With modules at different ranks and scales (one folded, the others fed as they are), the true
   * gradient of each B and A agrees with a central difference of the loss along its own direction,
   * the parameters moved in true coordinates. A fold the gradient missed would be off by c = 4.
   */
  @Test
  void mixedRanksAndScalesHaveTheGradientsOfTheirLoss() throws IOException {
    Manifest m = Manifest.read(TINY);
    Fixture fx = Fixture.read(m.dir());
    LoraPatterns patterns = new LoraPatterns(Map.of("layer.0.attention.self.query", 2), Map.of());
    LoraParams p = LoraParams.init(m, scaling(8, 16, patterns), new SplittableRandom(3));
    assertThat(p.rank(Q0)).isEqualTo(2);
    assertThat(p.scale(Q0)).isEqualTo(8f); // 16 / 2, c = 4
    assertThat(p.scale(Q1)).isEqualTo(2f);
    randomB(p);
    try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false)) {
      Map<String, Tensor> grads = p.trueGradients(run(g, fx, p.feeds()), Map.of());
      double h = 0.02;
      for (String n :
          List.of(
              TensorNames.loraB(Q0),
              TensorNames.loraA(Q0),
              TensorNames.loraB(Q1),
              TensorNames.loraA(Q1))) {
        float[] gr = grads.get(TensorNames.grad(n)).floats();
        double norm = 0;
        for (float v : gr) {
          norm += (double) v * v;
        }
        norm = Math.sqrt(norm);
        float[] x = p.tree().get(n);
        float[] x0 = x.clone();
        double[] loss = new double[2];
        for (int side = 0; side < 2; side++) {
          double step = side == 0 ? h : -h;
          for (int i = 0; i < x.length; i++) {
            x[i] = (float) (x0[i] + step * gr[i] / norm);
          }
          loss[side] = run(g, fx, p.feeds()).get(TensorNames.LOSS).floats()[0];
        }
        System.arraycopy(x0, 0, x, 0, x.length);
        double fd = (loss[0] - loss[1]) / (2 * h);
        assertThat(fd)
            .as(n + ": central difference vs |gradient|")
            .isCloseTo(norm, within(0.02 * norm));
      }
    }
  }
}
