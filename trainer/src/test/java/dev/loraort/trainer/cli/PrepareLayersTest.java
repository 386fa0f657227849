package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** prepare --layers-to-transform: LoRA on those layers only, and PEFT told the same. */
class PrepareLayersTest {
  @TempDir Path dir;

  @Test
  void onlyTheNamedLayersAreAdaptedAndThePeftConfigSaysSo() throws IOException {
    Path model = dir.resolve("model");
    assertThat(
            Main.run(
                "prepare",
                "--onnx",
                "../onnx-models/tiny-roberta-cls/plain/model.onnx",
                "--task",
                "seq-cls",
                "--layers-to-transform",
                "1",
                "--layers-pattern",
                "layer",
                "--out",
                model.toString()))
        .isZero();
    Manifest m = Manifest.read(model);
    assertThat(m.lora().modules())
        .extracting(Manifest.LoraModule::name)
        .containsExactly(
            "roberta.encoder.layer.1.attention.self.query",
            "roberta.encoder.layer.1.attention.self.value");
    assertThat(m.lora().layersToTransform()).containsExactly(1);
    assertThat(m.lora().layersPattern()).containsExactly("layer");

    Path run = dir.resolve("run");
    assertThat(
            Main.run(
                "train",
                "--model",
                model.toString(),
                "--data",
                "../onnx-models/tiny-roberta-cls/sample/train.jsonl",
                "--steps",
                "2",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                run.toString()))
        .isZero();
    Path peft = dir.resolve("peft");
    assertThat(
            Main.run(
                "export", "--run", run.toString(), "--format", "peft", "--out", peft.toString()))
        .isZero();
    JsonObject c =
        JsonParser.parseString(Files.readString(peft.resolve("adapter_config.json")))
            .getAsJsonObject();
    assertThat(c.getAsJsonArray("layers_to_transform").toString()).isEqualTo("[1]");
    assertThat(c.getAsJsonArray("layers_pattern").toString()).isEqualTo("[\"layer\"]");
  }
}
