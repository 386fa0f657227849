package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.trainer.config.RunSettings;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.method.Lora;
import dev.loraort.trainer.optim.Schedule;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingJobTest {
  static final Path TINY = Path.of("../onnx-models/tiny-roberta-cls");
  static final Path DATA = TINY.resolve("sample/train.jsonl");
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
  @TempDir Path dir;

  static TrainConfig config(long steps, long seed) {
    return config(steps, seed, 5e-3);
  }

  static TrainConfig config(long steps, long seed, double lr) {
    return new TrainConfig(
        new Lora.Cfg(),
        8,
        16,
        false,
        Map.of(),
        Map.of(),
        null,
        lr,
        Schedule.Kind.COSINE,
        0.03,
        0.01,
        0.9,
        0.999,
        1e-8,
        1.0,
        steps,
        0,
        16,
        1,
        seed);
  }

  private StepLoop.Result train(Path out, TrainConfig cfg, Path trace, Path init)
      throws IOException {
    return TrainingJob.run(
        new TrainingJob.Inputs(TINY, TINY.toString(), DATA, init),
        cfg,
        new RunSettings(
            List.of(ExecutionDevice.CPU), 2, out, trace, false, 0, false, true, 0, 0, null, 0),
        new Lora(),
        QUIET);
  }

  @Test
  void paddingToAMultipleChangesShapesNotResults() throws IOException {
    StepLoop.Result[] r = new StepLoop.Result[2];
    int[] multiples = {1, 1000}; // 1000: every batch as long as the positions (78)
    for (int i = 0; i < 2; i++) {
      Path out = dir.resolve("pad" + multiples[i]);
      r[i] =
          TrainingJob.run(
              new TrainingJob.Inputs(
                  TINY, TINY.toString(), DATA, null, null, null, 0, 0, multiples[i]),
              config(4, 0),
              new RunSettings(
                  List.of(ExecutionDevice.CPU), 2, out, null, false, 0, false, true, 0, 0, null, 0),
              new Lora(),
              QUIET);
      JsonObject run =
          JsonParser.parseString(Files.readString(out.resolve(TrainingJob.RUN_JSON)))
              .getAsJsonObject();
      assertThat(run.getAsJsonObject("data").get("pad_to_multiple_of").getAsInt())
          .isEqualTo(multiples[i]);
    }
    // the padding is masked out: the same losses and parameters up to float rounding
    assertThat(r[1].firstLoss())
        .isCloseTo(r[0].firstLoss(), org.assertj.core.data.Offset.offset(1e-5));
    assertThat(r[1].lastLoss())
        .isCloseTo(r[0].lastLoss(), org.assertj.core.data.Offset.offset(1e-5));
    for (String name : r[0].params().tree().names()) {
      float[] a = r[0].params().tree().get(name);
      float[] b = r[1].params().tree().get(name);
      for (int k = 0; k < a.length; k++) {
        assertThat(b[k]).as(name).isCloseTo(a[k], org.assertj.core.data.Offset.offset(1e-5f));
      }
    }
  }

  @Test
  void aRunDirectoryIsNeverWrittenOverWithoutBeingAsked() throws IOException {
    Path out = dir.resolve("run");
    train(out, config(2, 0), null, null);
    byte[] adapter = Files.readAllBytes(out.resolve(TrainingJob.ADAPTER));
    Path stale = out.resolve(".adapter.onnx.123.tmp"); // what a kill mid-write leaves
    Files.writeString(stale, "partial");
    assertThatThrownBy(
            () ->
                TrainingJob.run(
                    new TrainingJob.Inputs(TINY, "x", DATA, null),
                    config(2, 1),
                    RunSettings.of(ExecutionDevice.CPU, 1, out, null, false),
                    new Lora(),
                    QUIET))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(out + " holds a run (run.json, adapter.onnx")
        .hasMessageContaining("--resume")
        .hasMessageContaining("--overwrite");
    assertThat(Files.readAllBytes(out.resolve(TrainingJob.ADAPTER))).isEqualTo(adapter);
    assertThat(stale).doesNotExist();
  }

  @Test
  void hundredStepsHalveTheLossOnTheSyntheticTask() throws IOException {
    Path out = dir.resolve("run");
    train(out, config(100, 0), out.resolve("trace.jsonl"), null);
    List<String> lines = Files.readAllLines(out.resolve("trace.jsonl"));
    assertThat(lines).hasSize(100);
    double first = JsonParser.parseString(lines.get(0)).getAsJsonObject().get("loss").getAsDouble();
    double last10 =
        lines.subList(90, 100).stream()
            .mapToDouble(l -> JsonParser.parseString(l).getAsJsonObject().get("loss").getAsDouble())
            .average()
            .orElseThrow();
    assertThat(last10)
        .as("mean loss of the last 10 steps vs the first step's %s", first)
        .isLessThan(first / 2);
    JsonObject step = JsonParser.parseString(lines.get(5)).getAsJsonObject();
    assertThat(step.keySet())
        .containsExactlyInAnyOrder(
            "step",
            "loss",
            "lr",
            "grad_norm",
            "seconds",
            "host_seconds",
            "copy_seconds",
            "method_seconds",
            "optimizer_seconds",
            "data_seconds"); // plain LoRA has no perturbation_norm
    JsonObject run =
        JsonParser.parseString(Files.readString(out.resolve(TrainingJob.RUN_JSON)))
            .getAsJsonObject();
    assertThat(
            run.getAsJsonObject("provenance")
                .getAsJsonObject("files")
                .get("train.onnx")
                .getAsString())
        .isEqualTo(dev.loraort.artifacts.FileDigest.sha256(TINY.resolve("train.onnx")));
    assertThat(run.getAsJsonObject("config").get("seed").getAsLong()).isZero();
    OnnxFile.Contents adapter = OnnxFile.read(out.resolve(TrainingJob.ADAPTER));
    assertThat(adapter.metadata())
        .containsEntry("rank", "8")
        .containsEntry("method", "lora")
        .containsEntry("base_model_id", "tiny-roberta-cls");
    assertThat(adapter.initializers())
        .containsKey("roberta.encoder.layer.1.attention.self.value.lora_B.weight")
        .containsKey("classifier.out_proj.weight")
        .hasSize(12); // 8 LoRA + 4 head tensors
  }

  @Test
  void oneSeedGivesBitIdenticalAdaptersAndAnotherDoesNot() throws IOException {
    train(dir.resolve("a"), config(20, 3), null, null);
    train(dir.resolve("b"), config(20, 3), null, null);
    train(dir.resolve("c"), config(20, 4), null, null);
    byte[] a = Files.readAllBytes(dir.resolve("a").resolve(TrainingJob.ADAPTER));
    assertThat(Files.readAllBytes(dir.resolve("b").resolve(TrainingJob.ADAPTER))).isEqualTo(a);
    assertThat(Files.readAllBytes(dir.resolve("c").resolve(TrainingJob.ADAPTER))).isNotEqualTo(a);
  }

  @Test
  void continuingFromAnAdapterStartsAtItsWeights() throws IOException {
    Path first = dir.resolve("first");
    StepLoop.Result r1 = train(first, config(60, 0), null, null);
    StepLoop.Result r2 =
        train(dir.resolve("second"), config(5, 1), null, first.resolve(TrainingJob.ADAPTER));
    assertThat(r2.firstLoss()).isLessThan(r1.firstLoss() / 2);
  }

  @Test
  void aFailingRunLeavesTheExistingRunDirectoryIntact() throws IOException {
    Path out = dir.resolve("run");
    train(out, config(3, 0), null, null);
    byte[] adapter = Files.readAllBytes(out.resolve(TrainingJob.ADAPTER));
    byte[] runJson = Files.readAllBytes(out.resolve(TrainingJob.RUN_JSON));
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, Files.readAllLines(DATA).get(0) + "\n{\"input_ids\": [0, 1, 2]}\n");
    assertThatThrownBy(
            () ->
                TrainingJob.run(
                    new TrainingJob.Inputs(TINY, "x", bad, null),
                    config(3, 0),
                    new RunSettings(
                        List.of(ExecutionDevice.CPU),
                        1,
                        out,
                        null,
                        false,
                        0,
                        false,
                        true,
                        0,
                        0,
                        null,
                        0),
                    new Lora(),
                    QUIET))
        .hasMessageContaining(bad + ":2");
    OnnxFile.Contents start = OnnxFile.read(out.resolve(TrainingJob.ADAPTER));
    start.initializers().get("classifier.out_proj.bias").floats()[0] =
        Float.NaN; // a corrupt adapter to start from
    Path nan = dir.resolve("nan.onnx");
    OnnxFile.writeInitializers(nan, start.initializers(), start.metadata(), "test");
    // a NaN adapter is refused when read, naming the tensor
    assertThatThrownBy(() -> train(out, config(3, 0), null, nan))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(nan + ": classifier.out_proj.bias holds NaN at element 0");
    // a learning rate that blows up: stopped, and the message says what is on disk
    assertThatThrownBy(() -> train(out, config(3, 0, 1e30), null, null))
        .isInstanceOf(TrainingDiverged.class)
        .hasMessageContaining("step ")
        .hasMessageContaining("No checkpoint of this run was written")
        .hasMessageContaining("Not written: adapter.onnx and run.json");
    assertThat(Files.readAllBytes(out.resolve(TrainingJob.ADAPTER))).isEqualTo(adapter);
    assertThat(Files.readAllBytes(out.resolve(TrainingJob.RUN_JSON))).isEqualTo(runJson);
  }

  @Test
  void validationFractionHoldsOutDeduplicatedExamplesAndEvaluatesThem() throws IOException {
    // the sample data plus a copy of its first 12 lines: the copies are dropped before the split
    Path data = dir.resolve("train.jsonl");
    List<String> lines = new java.util.ArrayList<>(Files.readAllLines(DATA));
    int unique = lines.size();
    lines.addAll(lines.subList(0, 12));
    Files.write(data, lines);
    Path out = dir.resolve("run");
    TrainingJob.run(
        new TrainingJob.Inputs(TINY, "x", data, null, null, null, 0.25, 7, 1),
        config(5, 0),
        new RunSettings(
            List.of(ExecutionDevice.CPU), 2, out, null, false, 0, false, false, 0, 0, null, 0),
        new Lora(),
        QUIET);
    JsonObject d =
        JsonParser.parseString(Files.readString(out.resolve(TrainingJob.RUN_JSON)))
            .getAsJsonObject()
            .getAsJsonObject("data");
    assertThat(d.get("duplicates_dropped").getAsInt()).isEqualTo(12);
    assertThat(d.get("validation_examples").getAsInt()).isEqualTo(Math.round(0.25f * unique));
    assertThat(d.get("train_examples").getAsInt() + d.get("validation_examples").getAsInt())
        .isEqualTo(unique);
    List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
    assertThat(metrics.get(0)).contains("accuracy");
    assertThat(metrics).hasSize(2); // evaluated once, at the end
    assertThatThrownBy(() -> new TrainingJob.Inputs(TINY, "x", data, null, null, DATA, 0.25, 7, 1))
        .hasMessageContaining("not both");
  }

  /**
   * alpha_pattern's order decides which key a module takes (the first that matches): a resume with
   * the same keys in another order would train layer 1's query at another scale, so it is refused,
   * though the two configs are equal as JSON objects.
   */
  @Test
  void aResumeWithThePatternsInAnotherOrderIsRefused() throws IOException {
    Map<String, Double> first = new LinkedHashMap<>();
    first.put("query", 32.0);
    first.put("layer.1.attention.self.query", 64.0);
    Map<String, Double> reversed = new LinkedHashMap<>();
    reversed.put("layer.1.attention.self.query", 64.0);
    reversed.put("query", 32.0);
    Path out = dir.resolve("run");
    RunSettings once =
        new RunSettings(
            List.of(ExecutionDevice.CPU), 1, out, null, false, 1, false, false, 0, 0, null, 0);
    TrainingJob.run(
        new TrainingJob.Inputs(TINY, "x", DATA, null), withAlphas(first), once, new Lora(), QUIET);
    RunSettings resume =
        new RunSettings(
            List.of(ExecutionDevice.CPU), 1, out, null, false, 1, true, false, 0, 0, null, 0);
    assertThat(
            TrainingJob.run(
                    new TrainingJob.Inputs(TINY, "x", DATA, null),
                    withAlphas(first),
                    resume,
                    new Lora(),
                    QUIET)
                .steps())
        .as("the same patterns resume (nothing left to do)")
        .isZero();
    assertThatThrownBy(
            () ->
                TrainingJob.run(
                    new TrainingJob.Inputs(TINY, "x", DATA, null),
                    withAlphas(reversed),
                    resume,
                    new Lora(),
                    QUIET))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("belongs to a run with other settings")
        .hasMessageContaining("alphaPattern {\"query\":32.0,");
  }

  private static TrainConfig withAlphas(Map<String, Double> alphas) {
    TrainConfig c = config(2, 0);
    return new TrainConfig(
        c.method(),
        c.rank(),
        c.alpha(),
        c.rsLora(),
        Map.of(),
        alphas,
        c.loraDropout(),
        c.lr(),
        c.schedule(),
        c.warmupRatio(),
        c.weightDecay(),
        c.beta1(),
        c.beta2(),
        c.eps(),
        c.maxGradNorm(),
        c.steps(),
        c.epochs(),
        c.batchSize(),
        c.gradAccum(),
        c.seed());
  }
}
