package dev.loraort.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PerplexityTest {
  @Test
  void perplexityFromInferLogitsIsExpOfTheTrainGraphsLoss() throws IOException {
    // one fixture batch as examples, in order: the per-token NLL from infer.onnx's logits must
    // equal
    // the train graph's loss (torch's value, in the fixture), the mean over the same tokens
    Path dir = Path.of("../onnx-models/tiny-gpt2-lm");
    Manifest m = Manifest.read(dir);
    Fixture fx = Fixture.read(dir);
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    long[] ids = fx.batch().get("input_ids").longs();
    long[] mask = fx.batch().get("attention_mask").longs();
    long[] labels = fx.batch().get("labels").longs();
    int b = (int) fx.batch().get("input_ids").shape()[0];
    int seq = (int) fx.batch().get("input_ids").shape()[1];
    List<JsonlDataset.Example> examples = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("input_ids", java.util.Arrays.copyOfRange(ids, i * seq, (i + 1) * seq));
      v.put("attention_mask", java.util.Arrays.copyOfRange(mask, i * seq, (i + 1) * seq));
      v.put("labels", java.util.Arrays.copyOfRange(labels, i * seq, (i + 1) * seq));
      examples.add(new JsonlDataset.Example(v));
    }
    double[] ppl;
    try (Evaluator e = Evaluator.open(m, examples, b, ExecutionDevice.CPU, 1)) {
      ppl = e.perplexity(p);
    }
    Tensor torchLoss = fx.expected().get(TensorNames.LOSS);
    assertThat(ppl[0]).isCloseTo(torchLoss.floats()[0], within(1e-4));
    assertThat(ppl[1]).isCloseTo(Math.exp(ppl[0]), within(1e-9));
  }
}
