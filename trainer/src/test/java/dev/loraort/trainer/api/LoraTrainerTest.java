package dev.loraort.trainer.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.TextDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.method.EFlatLora;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraTrainerTest {
  static final Path TINY = Path.of("../onnx-models/tiny-roberta-cls");
  @TempDir Path dir;

  @Test
  void theBundledModelTrainsAndItsLossFalls() throws IOException {
    Path run = dir.resolve("run");
    TrainResult r =
        LoraTrainer.train(
            TrainOptions.builder(run).method("eflat-lora").steps(100).lr(5e-3).threads(1).build());
    assertThat(r.steps()).isEqualTo(100);
    assertThat(r.lastLoss()).as("last vs first loss").isLessThan(r.firstLoss() / 2);
    assertThat(r.adapter()).isEqualTo(run.resolve("adapter.onnx")).exists();
    assertThat(Files.readString(run.resolve("run.json")))
        .contains("\"modelDir\": \"" + BundledModel.LABEL + "\"")
        .contains("\"id\": \"eflat-lora\"");
    AdapterWeights a = LoraTrainer.loadAdapter(r.adapter(), r.modelDir());
    assertThat(a.metadata()).containsEntry("method", "eflat-lora");
    assertThat(LoraTrainer.modelOf(run).resolve("manifest.json"))
        .hasSameBinaryContentAs(TINY.resolve("manifest.json"));
  }

  @Test
  void theApiWritesTheAdapterTheCliWritesForTheSameSettings() throws IOException {
    TrainResult api =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("api"))
                .model(TINY)
                .method("lora-sam")
                .steps(8)
                .lr(3e-3)
                .rank(4)
                .seed(7)
                .threads(1)
                .build());
    Path cli = dir.resolve("cli");
    int status =
        Main.run(
            "train",
            "--model",
            TINY.toString(),
            "--method",
            "lora-sam",
            "--steps",
            "8",
            "--lr",
            "3e-3",
            "--rank",
            "4",
            "--seed",
            "7",
            "--threads",
            "1",
            "--no-progress",
            "--out",
            cli.toString());
    assertThat(status).isZero();
    assertThat(api.adapter()).hasSameBinaryContentAs(cli.resolve("adapter.onnx"));
  }

  @Test
  void everyExportedFormatLoadsBackToTheTrainedTensors() throws IOException {
    TrainResult r =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("run")).model(TINY).steps(3).threads(1).build());
    AdapterWeights trained = LoraTrainer.loadAdapter(r.adapter(), TINY);
    Map<AdapterFormat, String> names =
        Map.of(
            AdapterFormat.ORT_ADAPTER, "tiny.onnx_adapter",
            AdapterFormat.PEFT, "peft",
            AdapterFormat.SAFETENSORS, "tiny.safetensors");
    for (AdapterFormat f : names.keySet()) {
      Path out = dir.resolve(names.get(f)); // reading tells the format by the name
      LoraTrainer.export(r.adapter(), TINY, f, out);
      AdapterWeights back = LoraTrainer.loadAdapter(out, TINY);
      assertThat(back.rank()).as(f.cli).isEqualTo(trained.rank());
      assertThat(back.tensors().keySet()).as(f.cli).isEqualTo(trained.tensors().keySet());
      for (String name : trained.tensors().keySet()) {
        assertThat(effective(back, name))
            .as(f.cli + " " + name)
            .containsExactly(effective(trained, name), within(1e-6f));
      }
    }
    Path merged = dir.resolve("merged.onnx");
    LoraTrainer.export(r.adapter(), TINY, AdapterFormat.MERGED, merged);
    assertThat(Files.size(merged)).isGreaterThan(Files.size(TINY.resolve("infer.onnx")) / 2);
    // a merged model is a model, not an adapter: reading it as one says so
    assertThatThrownBy(() -> LoraTrainer.loadAdapter(merged, TINY))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(merged + " is a merged model")
        .hasMessageContaining("give the run's adapter instead");
  }

  @Test
  void rsLoraScalesByTheSquareRootOfTheRankAndSaysSoInPeft() throws IOException {
    TrainResult rs =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("rs"))
                .model(TINY)
                .rank(4)
                .alpha(16)
                .rsLora(true)
                .steps(3)
                .threads(1)
                .build());
    Path cli = dir.resolve("cli");
    assertThat(
            Main.run(
                "train",
                "--model",
                TINY.toString(),
                "--rank",
                "4",
                "--alpha",
                "16",
                "--use-rslora",
                "--steps",
                "3",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                cli.toString()))
        .isZero();
    assertThat(rs.adapter()).hasSameBinaryContentAs(cli.resolve("adapter.onnx"));
    assertThat(LoraTrainer.loadAdapter(rs.adapter(), TINY).scale()).isEqualTo(8f); // 16 / sqrt(4)
    Path peft = dir.resolve("peft");
    LoraTrainer.export(rs.adapter(), TINY, AdapterFormat.PEFT, peft);
    assertThat(Files.readString(peft.resolve("adapter_config.json")))
        .contains("\"use_rslora\": true");
    assertThat(LoraTrainer.loadAdapter(peft, TINY).scale()).isEqualTo(8f);

    TrainResult plain =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("plain"))
                .model(TINY)
                .rank(4)
                .alpha(16)
                .steps(3)
                .threads(1)
                .build());
    assertThat(LoraTrainer.loadAdapter(plain.adapter(), TINY).scale()).isEqualTo(4f);
    Path plainPeft = dir.resolve("plain-peft");
    LoraTrainer.export(plain.adapter(), TINY, AdapterFormat.PEFT, plainPeft);
    assertThat(Files.readString(plainPeft.resolve("adapter_config.json")))
        .contains("\"use_rslora\": false");
  }

  @Test
  void textDataIsReadWithTheModelsTokenizerAsTheCliReadsIt() throws IOException {
    // tiny RoBERTa with a word-level tokenizer (tiny CLIP's: ids below RoBERTa's 1,000)
    Path model = dir.resolve("model");
    Files.createDirectories(model);
    try (var files = Files.list(TINY)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Files.copy(f, model.resolve(f.getFileName()));
      }
    }
    Files.copy(Path.of("../onnx-models/tiny-clip/tokenizer.json"), model.resolve("tokenizer.json"));
    Files.writeString(
        model.resolve("manifest.json"),
        Files.readString(TINY.resolve("manifest.json"))
            .replace("\"tokenizer\": null", "\"tokenizer\": \"tokenizer.json\""));
    StringBuilder jsonl = new StringBuilder();
    String[] texts = {"a photo of a cat", "a drawing of a dog", "the small bag", "a dark coat"};
    for (int i = 0; i < 32; i++) {
      jsonl.append(
          String.format(
              "{\"review\": \"%s\", \"kind\": \"%s\"}%n",
              texts[i % 4], i % 4 == 1 ? "drawing" : i % 2 == 0 ? "photo" : "other"));
    }
    Path data = Files.writeString(dir.resolve("text.jsonl"), jsonl);
    TrainOptions.Builder b =
        TrainOptions.builder(dir.resolve("api"))
            .model(model)
            .data(data)
            .textFields(
                new TextDataset.Fields(
                    "review", null, "kind", List.of("other", "photo", "drawing")))
            .maxLength(16)
            .steps(4)
            .threads(1);
    TrainResult api = LoraTrainer.train(b.build());
    Path cli = dir.resolve("cli");
    assertThat(
            Main.run(
                "train",
                "--model",
                model.toString(),
                "--data",
                data.toString(),
                "--text-field",
                "review",
                "--label-field",
                "kind",
                "--labels",
                "other,photo,drawing",
                "--max-length",
                "16",
                "--steps",
                "4",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                cli.toString()))
        .isZero();
    assertThat(api.adapter()).hasSameBinaryContentAs(cli.resolve("adapter.onnx"));
    assertThat(LoraTrainer.loadAdapter(api.adapter(), model).metadata())
        .containsEntry(TrainingJob.LABELS, "[\"other\",\"photo\",\"drawing\"]");
    // names for another number of classes than the head has: refused before training
    TrainOptions twoNames =
        b.textFields(new TextDataset.Fields("review", null, "kind", List.of("other", "photo")))
            .overwrite(true)
            .build();
    assertThatThrownBy(() -> LoraTrainer.train(twoNames))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("--labels names 2 classes")
        .hasMessageContaining("has 3")
        .hasMessageContaining("--num-labels 2");
  }

  /**
   * A tensor as it acts in the model: s B for a LoRA B, since an .onnx_adapter folds s into B
   * (docs/formats.md), the tensor itself otherwise.
   */
  private static float[] effective(AdapterWeights a, String name) {
    float[] v = a.tensors().get(name).floats().clone();
    if (name.endsWith(".lora_B.weight")) {
      for (int i = 0; i < v.length; i++) {
        v[i] *= a.scale();
      }
    }
    return v;
  }

  @Test
  void aRunDirectoryIsNotWrittenOverUnlessAsked() throws IOException {
    TrainOptions.Builder b = TrainOptions.builder(dir.resolve("run")).model(TINY).steps(2);
    LoraTrainer.train(b.build());
    assertThatThrownBy(() -> LoraTrainer.train(b.build()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("holds a run");
    assertThat(LoraTrainer.train(b.overwrite(true).build()).steps()).isEqualTo(2);
  }

  @Test
  void optionsStartFromTheCliDefaultsAndNameWhatIsInvalid() {
    TrainOptions defaults = TrainOptions.builder(dir).build();
    assertThat(defaults.config()).isEqualTo(TrainConfig.defaults());
    assertThat(
            TrainOptions.builder(dir).method(EFlatLora.SPEC.defaults()).epochs(2).build().config())
        .extracting(TrainConfig::steps, TrainConfig::epochs)
        .containsExactly(0L, 2);
    assertThatThrownBy(() -> TrainOptions.builder(dir).rank(0).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rank must be >= 1, got 0");
    assertThatThrownBy(() -> TrainOptions.builder(dir).method("sam"))
        .hasMessageContaining("--method sam is unknown; expected one of [lora, lora-sam");
    assertThatThrownBy(() -> TrainOptions.builder(dir).device("tpu"))
        .hasMessageContaining("expected cpu, cuda or cuda:N");
    assertThatThrownBy(() -> TrainOptions.builder(dir).cudaOption("gpu_mem_limit", "1").build())
        .hasMessageContaining("--cuda-option [gpu_mem_limit] needs --device cuda");
    // options set before the device are kept: the session gets them after the trainer's own
    assertThat(
            TrainOptions.builder(dir)
                .cudaOption("gpu_mem_limit", "1073741824")
                .device("cuda:1")
                .build()
                .device
                .cudaOptions())
        .containsExactly(java.util.Map.entry("gpu_mem_limit", "1073741824"));
    assertThatThrownBy(() -> TrainOptions.builder(dir).bf16(true).build())
        .hasMessageContaining("--bf16 needs --device cuda");
    assertThat(TrainOptions.builder(dir).bf16(true).device("cuda").build().device.precision())
        .isEqualTo(ExecutionDevice.Precision.BF16);
  }
}
