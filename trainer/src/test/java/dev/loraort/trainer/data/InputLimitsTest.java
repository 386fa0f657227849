package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Data a model cannot take is refused when read, naming the file and line. */
class InputLimitsTest {
  @TempDir Path dir;

  private Path jsonl(String... lines) throws IOException {
    Path f = dir.resolve("data.jsonl");
    Files.writeString(f, String.join("\n", lines) + "\n");
    return f;
  }

  private static Manifest model(String id) throws IOException {
    return Manifest.read(Path.of("../onnx-models", id));
  }

  @Test
  void theLimitsComeFromTheManifest() throws IOException {
    // tiny RoBERTa: 1,000 tokens, 80 positions minus the padding offset, a 3-class head
    assertThat(InputLimits.of(model("tiny-roberta-cls"))).isEqualTo(new InputLimits(1000, 3, 78));
    assertThat(InputLimits.of(model("tiny-gpt2-lm"))).isEqualTo(new InputLimits(1000, 0, 128));
    assertThat(InputLimits.of(model("tiny-clip"))).isEqualTo(new InputLimits(1000, 0, 64));
  }

  @Test
  void aNegativeClassLabelIsRefusedNotTrainedAsTheLastClass() throws IOException {
    Path f =
        jsonl(
            "{\"input_ids\": [0, 5, 2], \"labels\": 1}",
            "",
            "{\"input_ids\": [0, 5, 2], \"labels\": -1}");
    assertThatThrownBy(() -> JsonlDataset.read(f, model("tiny-roberta-cls")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(f + ":3: label -1 is outside the model's classes 0..2");
    Path three = jsonl("{\"input_ids\": [0, 5, 2], \"labels\": 3}");
    assertThatThrownBy(() -> JsonlDataset.read(three, model("tiny-roberta-cls")))
        .hasMessageContaining(":1: label 3 is outside");
  }

  @Test
  void tokenIdsBeyondTheVocabularyAndOverlongSequencesAreRefused() throws IOException {
    Path big = jsonl("{\"input_ids\": [0, 1000, 2], \"labels\": 1}");
    assertThatThrownBy(() -> JsonlDataset.read(big, model("tiny-roberta-cls")))
        .hasMessageContaining(
            ":1: input_ids holds token id 1000; the model's vocabulary is 0..999");
    StringBuilder ids = new StringBuilder("0");
    for (int i = 0; i < 78; i++) {
      ids.append(", 5");
    }
    Path longer = jsonl("{\"input_ids\": [" + ids + "], \"labels\": 1}");
    assertThatThrownBy(() -> JsonlDataset.read(longer, model("tiny-roberta-cls")))
        .hasMessageContaining("input_ids has 79 tokens; the model's positions cover 78");
  }

  @Test
  void ignoredTokenLabelsPass() throws IOException {
    Path f = jsonl("{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 999]}");
    assertThat(JsonlDataset.read(f, model("tiny-gpt2-lm"))).hasSize(1);
    Path bad = jsonl("{\"input_ids\": [5, 6, 7], \"labels\": [-1, 6, 7]}");
    assertThatThrownBy(() -> JsonlDataset.read(bad, model("tiny-gpt2-lm")))
        .hasMessageContaining("label -1 is outside the model's token ids 0..999");
  }
}
