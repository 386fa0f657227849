package dev.loraort.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SharpnessTest {
  static final Path TINY = Path.of("../onnx-models/tiny-roberta-cls");

  @Test
  void theIdentityBranchGivesTheFullSpaceGradient() throws IOException {
    // dL/dW from B''s extra columns must reproduce the graph's LoRA gradient: g_B = s G A^T
    Manifest m = Manifest.read(TINY);
    Fixture fx = Fixture.read(TINY);
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false);
        GraphSession lossOnly = ModelGraphs.openLoss(m, ExecutionDevice.CPU, 1)) {
      // the loss-only runs go through the train graph cut to its forward: the same loss
      assertThat(lossOnly.io(true)).containsOnlyKeys(TensorNames.LOSS);
      Sharpness.Probe probe = new Sharpness.Probe(m, p, g, lossOnly, List.of(fx.batch()));
      Map<String, float[]> grad = new LinkedHashMap<>();
      double loss = probe.loss(probe.zeros(), grad);
      assertThat(probe.loss(probe.zeros(), null)).isCloseTo(loss, within(1e-6));
      Map<String, Tensor> feeds = new LinkedHashMap<>(fx.trainFeeds());
      Map<String, Tensor> ref = g.train().run(feeds, ModelGraphs.trainOutputs(p.tree().names()));
      assertThat(loss).isCloseTo(ref.get(TensorNames.LOSS).floats()[0], within(1e-6));
      int r = p.rank();
      for (Manifest.LoraModule mod : m.lora().modules()) {
        float[] gw = grad.get(mod.name());
        float[] a = p.tree().get(TensorNames.loraA(mod.name()));
        float[] gb = ref.get(TensorNames.grad(TensorNames.loraB(mod.name()))).floats();
        double max = 0;
        double err = 0;
        for (int i = 0; i < mod.out(); i++) {
          for (int k = 0; k < r; k++) {
            double v = 0;
            for (int j = 0; j < mod.in(); j++) {
              v += gw[i * mod.in() + j] * a[k * mod.in() + j];
            }
            v *= p.scale();
            max = Math.max(max, Math.abs(gb[i * r + k]));
            err = Math.max(err, Math.abs(v - gb[i * r + k]));
          }
        }
        assertThat(err / max).as(mod.name()).isLessThan(1e-4);
      }
    }
  }

  @Test
  void adversarialIncreaseIsFirstOrderAtSmallRhoAndBeatsRandomDirections() throws IOException {
    Manifest m = Manifest.read(TINY);
    Fixture fx = Fixture.read(TINY);
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    List<JsonlDataset.Example> data =
        JsonlDataset.read(TINY.resolve("sample/train.jsonl"), m).subList(0, 32);
    Sharpness small = Sharpness.measure(m, p, data, 16, 1e-3, 1, 4, 0, ExecutionDevice.CPU, 1);
    Sharpness twice = Sharpness.measure(m, p, data, 16, 2e-3, 1, 4, 0, ExecutionDevice.CPU, 1);
    assertThat(small.adversarialIncrease()).isPositive();
    assertThat(twice.adversarialIncrease() / small.adversarialIncrease())
        .isCloseTo(2.0, within(0.1));
    Sharpness big = Sharpness.measure(m, p, data, 16, 0.2, 3, 4, 0, ExecutionDevice.CPU, 1);
    assertThat(big.adversarialIncrease()).isGreaterThan(big.randomMeanIncrease());
    assertThat(big.cleanLoss()).isCloseTo(small.cleanLoss(), within(1e-9));
  }
}
