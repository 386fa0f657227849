package dev.loraort.artifacts.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
  @TempDir Path dir;

  @Test
  void readsEveryCommittedModel() throws IOException {
    for (String id :
        new String[] {
          "tiny-roberta-cls",
          "tiny-bert-cls",
          "tiny-gpt2-lm",
          "tiny-clip",
          "tiny-qwen2vl",
          "all-minilm-l6-v2-cls"
        }) {
      Manifest m = Manifest.read(Path.of("../onnx-models", id));
      assertThat(m.id()).isEqualTo(id);
      assertThat(m.graph("train")).get().satisfies(p -> assertThat(p).exists());
      assertThat(m.graph("infer")).get().satisfies(p -> assertThat(p).exists());
      assertThat(m.lora().modules()).isNotEmpty();
    }
    Manifest gpt2 = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    assertThat(gpt2.lora().modules().get(0).fanInFanOut()).isTrue();
    assertThat(gpt2.lora().modules().get(0).baseLayout()).isEqualTo("in_out");
    Manifest roberta = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    assertThat(roberta.padTokenId()).isEqualTo(1);
    assertThat(roberta.inputs().get(0).dtype()).isEqualTo(Tensor.DType.I64);
    assertThat(roberta.inputs().get(0).shape().get(0).symbol()).isEqualTo("batch");
    Manifest minilm = Manifest.read(Path.of("../onnx-models/all-minilm-l6-v2-cls"));
    assertThat(minilm.baseWeights())
        .get()
        .satisfies(b -> assertThat(b.origin()).containsEntry("prefix", "bert."));
  }

  @Test
  void errorsNameTheFileAndField() throws IOException {
    String good = Files.readString(Path.of("../onnx-models/tiny-roberta-cls/manifest.json"));
    Files.writeString(dir.resolve("manifest.json"), good.replaceFirst("\"in\": 64", "\"inn\": 64"));
    assertThatThrownBy(() -> Manifest.read(dir))
        .hasMessageContaining(dir.resolve("manifest.json").toString())
        .hasMessageContaining("missing field lora.modules[0].in");
    Files.writeString(dir.resolve("manifest.json"), good.replace("lora-graph/1", "lora-graph/9"));
    assertThatThrownBy(() -> Manifest.read(dir)).hasMessageContaining("contract is 'lora-graph/9'");
    Files.writeString(dir.resolve("manifest.json"), "{");
    assertThatThrownBy(() -> Manifest.read(dir)).hasMessageContaining("not a JSON object");
    assertThatThrownBy(() -> Manifest.read(dir.resolve("nope")))
        .hasMessageContaining("is not a model directory");
  }
}
