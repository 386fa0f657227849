package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Flat-LoRA's graph noise has the statistics of docs/methods.md section 5: eps_ij ~ N(0, std_i^2)
 * with std_i = sigma / sqrt(in) * ||W'_i,:||, W' = W0 + s B A (rows = output filters, also for
 * GPT-2's Conv1D). Checked on the graph's own rwp_noise outputs over several runs: the normalised
 * noise z = eps / std has mean 0 and variance 1 within 5 standard errors, and no row's sample
 * standard deviation is off by more than 40% (64+ samples a row).
 */
class FlatLoraNoiseTest {
  @ParameterizedTest
  @ValueSource(strings = {"tiny-roberta-cls", "tiny-gpt2-lm"})
  void noiseIsFilterWiseGaussianScaledByTheRowNorms(String id) throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models", id));
    Fixture fx = Fixture.read(m.dir());
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    Map<String, Tensor> base = OnnxFile.read(m.graph("infer").orElseThrow()).initializers();
    float sigma = 0.3f;
    List<String> outs = new ArrayList<>();
    m.lora().modules().forEach(mod -> outs.add("rwp_noise." + mod.name()));
    double sum = 0;
    double sumSq = 0;
    long count = 0;
    double worstRow = 0;
    try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, true)) {
      for (int run = 0; run < 3; run++) {
        Map<String, Tensor> feeds = new LinkedHashMap<>(fx.trainFeeds());
        feeds.put(TensorNames.RWP_SIGMA, Tensor.scalar(sigma));
        Map<String, Tensor> got = g.rwp().run(feeds, outs);
        for (Manifest.LoraModule mod : m.lora().modules()) {
          double[] std = expectedStd(mod, base.get(mod.baseWeight()).floats(), p, sigma);
          float[] eps = got.get("rwp_noise." + mod.name()).floats();
          assertThat(eps).hasSize(mod.out() * mod.in());
          for (int i = 0; i < mod.out(); i++) {
            double rowSq = 0;
            for (int j = 0; j < mod.in(); j++) {
              double z = eps[i * mod.in() + j] / std[i];
              sum += z;
              sumSq += z * z;
              rowSq += z * z;
              count++;
            }
            worstRow = Math.max(worstRow, Math.abs(Math.sqrt(rowSq / mod.in()) - 1));
          }
        }
      }
    }
    double mean = sum / count;
    double var = sumSq / count - mean * mean;
    assertThat(mean).isCloseTo(0, within(5 / Math.sqrt(count)));
    assertThat(var).isCloseTo(1, within(5 * Math.sqrt(2.0 / count)));
    assertThat(worstRow).isLessThan(0.4);
  }

  /**
   * std_i = sigma / sqrt(in) * ||W'_i,:|| for each output filter i, W' = W0 + s B A in [out, in].
   */
  static double[] expectedStd(Manifest.LoraModule mod, float[] w0, LoraParams p, float sigma) {
    float[] a = p.tree().get(TensorNames.loraA(mod.name()));
    float[] b = p.tree().get(TensorNames.loraB(mod.name()));
    int r = p.rank();
    boolean inOut = "in_out".equals(mod.baseLayout());
    double[] std = new double[mod.out()];
    for (int i = 0; i < mod.out(); i++) {
      double sq = 0;
      for (int j = 0; j < mod.in(); j++) {
        double ba = 0;
        for (int k = 0; k < r; k++) {
          ba += b[i * r + k] * a[k * mod.in() + j];
        }
        double w = (inOut ? w0[j * mod.out() + i] : w0[i * mod.in() + j]) + p.scale() * ba;
        sq += w * w;
      }
      std[i] = sigma / Math.sqrt(mod.in()) * Math.sqrt(sq);
    }
    return std;
  }
}
