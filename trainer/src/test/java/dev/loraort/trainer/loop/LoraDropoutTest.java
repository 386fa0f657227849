package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.builder.Prepare;
import dev.loraort.builder.PrepareConfig;
import dev.loraort.trainer.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT's lora_dropout through a model prepared with the dropout branch: off, it trains exactly as
 * the model without the branch; on, it changes the run, reproducibly; asking for it on a model
 * without the branch is refused; the PEFT directory records it.
 */
class LoraDropoutTest {
  private static final Path PLAIN = Path.of("../onnx-models/tiny-roberta-cls/plain/model.onnx");
  private static final Path DATA = TrainingJobTest.DATA;
  @TempDir static Path models;
  @TempDir Path dir;
  private static Path withDropout;
  private static Path without;

  @BeforeAll
  static void prepare() throws IOException {
    withDropout = models.resolve("with");
    without = models.resolve("without");
    Prepare.run(
        PrepareConfig.defaults(PLAIN, withDropout, "seq-cls").toBuilder()
            .id("tiny")
            .loraDropout(0.2)
            .build());
    Prepare.run(PrepareConfig.defaults(PLAIN, without, "seq-cls").toBuilder().id("tiny").build());
  }

  private Map<String, Tensor> train(Path model, String name, String... extra) throws IOException {
    Path out = dir.resolve(name);
    String[] args = {
      "train",
      "--model",
      model.toString(),
      "--data",
      DATA.toString(),
      "--steps",
      "15",
      "--lr",
      "5e-3",
      "--threads",
      "1",
      "--no-progress",
      "--out",
      out.toString()
    };
    String[] all =
        java.util.stream.Stream.concat(
                java.util.Arrays.stream(args), java.util.Arrays.stream(extra))
            .toArray(String[]::new);
    assertThat(Main.run(all)).isZero();
    return Adapters.read(out.resolve(TrainingJob.ADAPTER), Manifest.read(model)).tensors();
  }

  @Test
  void offItTrainsExactlyAsWithoutTheBranch() throws IOException {
    Map<String, Tensor> plain = train(without, "plain");
    Map<String, Tensor> off = train(withDropout, "off", "--lora-dropout", "0");
    assertThat(off.keySet()).isEqualTo(plain.keySet());
    plain.forEach((k, v) -> assertThat(off.get(k).floats()).as(k).containsExactly(v.floats()));
  }

  @Test
  void onItChangesTheRunReproduciblyAndIsRecorded() throws IOException {
    Map<String, Tensor> off = train(withDropout, "off", "--lora-dropout", "0");
    // no option: the 0.2 that prepare recorded
    Map<String, Tensor> a = train(withDropout, "a");
    Map<String, Tensor> b = train(withDropout, "b", "--lora-dropout", "0.2");
    String k = off.keySet().iterator().next();
    assertThat(a.get(k).floats()).isNotEqualTo(off.get(k).floats());
    a.forEach((name, v) -> assertThat(b.get(name).floats()).as(name).containsExactly(v.floats()));
    String runJson = Files.readString(dir.resolve("a").resolve(TrainingJob.RUN_JSON));
    assertThat(
            JsonParser.parseString(runJson)
                .getAsJsonObject()
                .getAsJsonObject("config")
                .get("loraDropout")
                .getAsDouble())
        .isEqualTo(0.2);
    Path peft = dir.resolve("peft");
    assertThat(
            Main.run(
                "export",
                "--run",
                dir.resolve("a").toString(),
                "--format",
                "peft",
                "--out",
                peft.toString()))
        .isZero();
    assertThat(
            JsonParser.parseString(Files.readString(peft.resolve("adapter_config.json")))
                .getAsJsonObject()
                .get("lora_dropout")
                .getAsDouble())
        .isEqualTo(0.2);
  }

  @Test
  void aModelWithoutTheBranchRefusesDropout() {
    assertThatThrownBy(
            () ->
                TrainingJob.withModelDropout(
                    TrainingJobTest.config(2, 0).withLoraDropout(0.1), Manifest.read(without)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--lora-dropout 0.1")
        .hasMessageContaining("prepare --lora-dropout");
  }
}
