package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EmbeddedModelTest {
  @Test
  void dataDefaultsToTheSampleAndAMissingFileSaysWhichAndWhy() {
    Path withSample = Path.of("../onnx-models/tiny-roberta-cls");
    assertThat(EmbeddedModel.dataFile(withSample, null))
        .isEqualTo(withSample.resolve("sample/train.jsonl"));
    Path given = Path.of("../onnx-models/tiny-gpt2-lm/manifest.json");
    assertThat(EmbeddedModel.dataFile(withSample, given)).isEqualTo(given);

    Path noSample = Path.of("../onnx-models/tiny-clip");
    assertThatThrownBy(() -> EmbeddedModel.dataFile(noSample, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            noSample.resolve("sample/train.jsonl")
                + " not found (no --data given and the model has no sample/train.jsonl)");
    Path missing = Path.of("no-such-dir/data.jsonl");
    assertThatThrownBy(() -> EmbeddedModel.dataFile(withSample, missing))
        .hasMessage("no-such-dir/data.jsonl not found");
  }
}
