package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.FixtureCheck;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every committed model directory's fixture: Java + ONNX Runtime give torch's loss, every gradient
 * and every infer output (allclose, rtol 1e-4, atol 1e-5). MiniLM runs at its real weights.
 */
class FixtureConformanceTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "tiny-roberta-cls",
        "tiny-bert-cls",
        "tiny-gpt2-lm",
        "tiny-clip",
        "tiny-qwen2vl",
        "all-minilm-l6-v2-cls"
      })
  void javaAndOrtReproduceTorch(String id) throws IOException {
    Manifest m =
        id.equals("all-minilm-l6-v2-cls")
            ? MiniLm.materialized()
            : Manifest.read(Path.of("../onnx-models", id));
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, ExecutionDevice.CPU, 0);
    int grads = 2 * m.lora().modules().size() + m.trainable().size();
    assertThat(rows).hasSize(1 + grads + m.inferOutputs().size());
    assertThat(rows)
        .allSatisfy(
            r ->
                assertThat(r.ok())
                    .as(
                        "%s %s: max abs %s (%s of max)",
                        r.graph(), r.name(), r.maxAbs(), r.relToMax())
                    .isTrue());
  }
}
