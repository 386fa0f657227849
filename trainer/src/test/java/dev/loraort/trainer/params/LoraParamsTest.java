package dev.loraort.trainer.params;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Path;
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
}
