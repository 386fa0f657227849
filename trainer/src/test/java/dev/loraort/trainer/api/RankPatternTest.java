package dev.loraort.trainer.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.ortadapter.OrtAdapterFile;
import dev.loraort.artifacts.safetensors.Safetensors;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.method.MethodSpec;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PEFT's rank_pattern and alpha_pattern end to end on the bundled tiny RoBERTa: r = 4, alpha = 8 (s
 * = 2), layer 0's query at rank 2 (s = 4), both values at rank 6 (s = 4/3), layer 1's query at
 * alpha 32 (s = 8).
 */
class RankPatternTest {
  static final Path TINY = LoraTrainerTest.TINY;
  static final Path GPT2 = Path.of("../onnx-models/tiny-gpt2-lm");
  static final String Q0 = "roberta.encoder.layer.0.attention.self.query";
  static final String V0 = "roberta.encoder.layer.0.attention.self.value";
  static final String Q1 = "roberta.encoder.layer.1.attention.self.query";
  @TempDir Path dir;

  static Map<String, Integer> ranks() {
    Map<String, Integer> r = new LinkedHashMap<>();
    r.put("layer.0.attention.self.query", 2);
    r.put("value", 6);
    return r;
  }

  static TrainResult train(Path run) throws IOException {
    return LoraTrainer.train(
        TrainOptions.builder(run)
            .model(TINY)
            .rank(4)
            .alpha(8)
            .rankPattern(ranks())
            .alphaPattern(Map.of("layer.1.attention.self.query", 32.0))
            .steps(10)
            .lr(2e-2)
            .threads(1)
            .build());
  }

  @Test
  void theApiAndTheCliTrainEachModuleAtItsRankAndScale() throws IOException {
    TrainResult api = train(dir.resolve("api"));
    Path cli = dir.resolve("cli");
    assertThat(
            Main.run(
                "train",
                "--model",
                TINY.toString(),
                "--rank",
                "4",
                "--alpha",
                "8",
                "--rank-pattern",
                "layer.0.attention.self.query=2,value=6",
                "--alpha-pattern",
                "layer.1.attention.self.query=32",
                "--steps",
                "10",
                "--lr",
                "2e-2",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                cli.toString()))
        .isZero();
    assertThat(api.adapter()).hasSameBinaryContentAs(cli.resolve("adapter.onnx"));
    AdapterWeights a = LoraTrainer.loadAdapter(api.adapter(), TINY);
    assertThat(a.tensors().get(TensorNames.loraA(Q0)).shape()).containsExactly(2, 64);
    assertThat(a.tensors().get(TensorNames.loraB(Q0)).shape()).containsExactly(64, 2);
    assertThat(a.tensors().get(TensorNames.loraA(V0)).shape()).containsExactly(6, 64);
    assertThat(a.tensors().get(TensorNames.loraB(Q1)).shape()).containsExactly(64, 4);
    assertThat(a.scale()).isEqualTo(2f);
    assertThat(a.scale(Q0)).isEqualTo(4f);
    assertThat(a.scale(V0)).isEqualTo(8f / 6);
    assertThat(a.scale(Q1)).isEqualTo(8f);
    float[] b0 = a.tensors().get(TensorNames.loraB(Q0)).floats();
    assertThat(b0).as("trained: B moved from 0").isNotEqualTo(new float[b0.length]);
    JsonObject config =
        JsonParser.parseString(Files.readString(api.runDir().resolve("run.json")))
            .getAsJsonObject()
            .getAsJsonObject("config");
    assertThat(config.getAsJsonObject("rankPattern").toString())
        .isEqualTo("{\"layer.0.attention.self.query\":2,\"value\":6}");
    assertThat(config.getAsJsonObject("alphaPattern").toString())
        .isEqualTo("{\"layer.1.attention.self.query\":32.0}");
  }

  /**
   * The infer graph fed the adapter's tensors (each B folded and each module padded to the widest
   * rank, as the trainer feeds them) gives the logits of every export read back, of the
   * .onnx_adapter active in ONNX Runtime with lora_scale = 1, and of the merged model (which folds
   * s_m B_m A_m in Java), within 1e-5 of the max; one scale for all modules would give others.
   */
  @Test
  void everyFormatGivesEachModuleItsScaleBack() throws IOException {
    sameLogitsInEveryFormat(TINY, train(dir.resolve("run")));
    JsonObject c =
        JsonParser.parseString(Files.readString(dir.resolve("peft").resolve("adapter_config.json")))
            .getAsJsonObject();
    assertThat(c.get("r").getAsInt()).isEqualTo(4);
    assertThat(c.get("lora_alpha").getAsDouble()).isEqualTo(8);
    assertThat(c.get("use_rslora").getAsBoolean()).isFalse();
    assertThat(c.getAsJsonObject("rank_pattern").toString())
        .isEqualTo("{\"layer.0.attention.self.query\":2,\"value\":6}");
    assertThat(c.getAsJsonObject("alpha_pattern").toString())
        .isEqualTo("{\"layer.1.attention.self.query\":32.0}");
  }

  /**
   * Every method trains with modules at different ranks and scales: Bi-LoRA joins its auxiliary
   * branch to each module's own rank, FMLoRA and EFlat-LoRA divide by each module's s, Flat-LoRA's
   * graph reads lora_scale only in W' = W0 + s B A, which the fold keeps exact.
   */
  @Test
  void everyMethodTrainsWithPerModuleRanks() throws IOException {
    for (MethodSpec<?> spec : Methods.ALL) {
      TrainResult r =
          LoraTrainer.train(
              TrainOptions.builder(dir.resolve(spec.id()))
                  .model(TINY)
                  .method(spec.id())
                  .rank(4)
                  .alpha(8)
                  .rankPattern(ranks())
                  .alphaPattern(Map.of("layer.1.attention.self.query", 32.0))
                  .steps(3)
                  .lr(1e-2)
                  .threads(1)
                  .build());
      assertThat(r.lastLoss()).as(spec.id()).isFinite();
      AdapterWeights a = LoraTrainer.loadAdapter(r.adapter(), TINY);
      assertThat(a.tensors().get(TensorNames.loraB(Q0)).shape())
          .as(spec.id())
          .containsExactly(64, 2);
      assertThat(a.tensors().get(TensorNames.loraA(V0)).shape())
          .as(spec.id())
          .containsExactly(6, 64);
      assertThat(a.metadata()).containsEntry("method", spec.id());
    }
  }

  /**
   * GPT-2 (Conv1D, fan_in_fan_out) under rsLoRA, one layer at rank 2 beside one at 4 with alpha 32:
   * ONNX Runtime fails on its infer graph when the two are fed at their own ranks (a reused buffer
   * too small), so this also checks that every path feeds them padded.
   */
  @Test
  void gpt2WithRsLoraGivesTheSameLogitsInEveryFormat() throws IOException {
    StringBuilder jsonl = new StringBuilder();
    java.util.SplittableRandom rng = new java.util.SplittableRandom(0);
    for (int i = 0; i < 32; i++) {
      jsonl.append("{\"input_ids\": [");
      for (int k = 0; k < 12; k++) {
        jsonl.append(k == 0 ? "" : ", ").append(rng.nextInt(1000));
      }
      jsonl.append("]}\n");
    }
    Path data = Files.writeString(dir.resolve("ids.jsonl"), jsonl);
    TrainResult r =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("gpt2"))
                .model(GPT2)
                .data(data)
                .rank(4)
                .alpha(8)
                .rsLora(true)
                .rankPattern(Map.of("h.0.attn.c_attn", 2))
                .alphaPattern(Map.of("h.1.attn.c_attn", 32.0))
                .steps(10)
                .lr(2e-2)
                .threads(1)
                .build());
    AdapterWeights a = LoraTrainer.loadAdapter(r.adapter(), GPT2);
    assertThat(a.scale("transformer.h.0.attn.c_attn")).isEqualTo((float) (8 / Math.sqrt(2)));
    assertThat(a.scale("transformer.h.1.attn.c_attn")).isEqualTo(16f); // 32 / sqrt(4)
    sameLogitsInEveryFormat(GPT2, r);
  }

  private void sameLogitsInEveryFormat(Path model, TrainResult r) throws IOException {
    Manifest m = Manifest.read(model);
    Fixture fx = Fixture.read(model);
    Map<String, Tensor> batch = new LinkedHashMap<>();
    m.inferInputs().forEach(s -> batch.put(s.name(), fx.batch().get(s.name())));
    AdapterWeights a = LoraTrainer.loadAdapter(r.adapter(), model);
    LoraParams p = LoraParams.of(m, a.tensors(), a, "adapter.onnx");
    List<String> logits = List.of("logits");
    Path ort = dir.resolve("a.onnx_adapter");
    LoraTrainer.export(r.adapter(), model, AdapterFormat.ORT_ADAPTER, ort);
    Tensor want;
    try (GraphSession inf = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
      want = inf.run(with(batch, p.feeds()), logits).get("logits");
      LoraParams oneScale = new LoraParams(p.tree(), p.modules(), p.rank(), p.scale());
      assertThat(inf.run(with(batch, oneScale.feeds()), logits).get("logits").maxErrorOfMax(want))
          .as("the patterns' scales change the logits")
          .isGreaterThan(1e-3);
      Map<String, Tensor> scaleOne = new LinkedHashMap<>(batch);
      scaleOne.put(TensorNames.LORA_SCALE, Tensor.scalar(OrtAdapterFile.FED_SCALE));
      assertThat(inf.run(scaleOne, logits, ort).get("logits").maxErrorOfMax(want))
          .as(".onnx_adapter active, lora_scale = 1")
          .isLessThan(1e-5);
      Map<AdapterFormat, String> names =
          Map.of(
              AdapterFormat.ONNX, "b.onnx",
              AdapterFormat.ORT_ADAPTER, "b.onnx_adapter",
              AdapterFormat.PEFT, "peft",
              AdapterFormat.SAFETENSORS, "b.safetensors");
      for (Map.Entry<AdapterFormat, String> f : names.entrySet()) {
        Path out = dir.resolve(f.getValue());
        LoraTrainer.export(r.adapter(), model, f.getKey(), out);
        AdapterWeights back = LoraTrainer.loadAdapter(out, model);
        LoraParams q = LoraParams.of(m, back.tensors(), back, out.toString());
        assertThat(inf.run(with(batch, q.feeds()), logits).get("logits").maxErrorOfMax(want))
            .as(f.getKey().cli + " read back")
            .isLessThan(1e-5);
      }
    }
    Path merged = dir.resolve("merged.onnx");
    LoraTrainer.export(r.adapter(), model, AdapterFormat.MERGED, merged);
    try (GraphSession mg = GraphSession.open(merged, ExecutionDevice.CPU, 1)) {
      assertThat(mg.run(batch, logits).get("logits").maxErrorOfMax(want))
          .as("merged")
          .isLessThan(1e-5);
    }
  }

  /**
   * Adapters the peft library itself wrote with rank_pattern and alpha_pattern (peft 0.21.0,
   * scripts/make_peft_rank_pattern_fixture.py: a regex key on RoBERTa; GPT-2's Conv1D under rsLoRA
   * at ranks 2 and 4) load with PEFT's per-module ranks and scales and give PEFT's logits (1e-5 of
   * the max); one scale for all modules would not.
   */
  @ParameterizedTest
  @ValueSource(strings = {"tiny-roberta-cls", "tiny-gpt2-lm"})
  void adaptersPeftWroteGivePeftsLogits(String id) throws IOException {
    Path model = Path.of("../onnx-models", id);
    Path fixture = Path.of("src/test/resources/peft-rank-pattern", id);
    Manifest m = Manifest.read(model);
    Fixture fx = Fixture.read(model);
    Map<String, Tensor> batch = new LinkedHashMap<>();
    m.inferInputs().forEach(s -> batch.put(s.name(), fx.batch().get(s.name())));
    AdapterWeights a = LoraTrainer.loadAdapter(fixture.resolve("peft"), model);
    if (id.equals("tiny-roberta-cls")) { // PEFT printed r 4, 16, 8, 16 and scaling 4, 1, 2, 4
      assertThat(a.rank(Q0)).isEqualTo(4);
      assertThat(a.scale(Q0)).isEqualTo(4f);
      assertThat(a.scale(V0)).isEqualTo(1f);
      assertThat(a.scale(Q1)).isEqualTo(2f);
      assertThat(a.scale("roberta.encoder.layer.1.attention.self.value")).isEqualTo(4f);
    }
    LoraParams p = LoraParams.of(m, a.tensors(), a, "peft");
    Tensor want =
        Safetensors.read(
                fixture.resolve(
                    id.equals("tiny-gpt2-lm")
                        ? "peft_logits_head.safetensors"
                        : "peft_outputs.safetensors"))
            .tensors()
            .get("logits");
    List<String> logits = List.of("logits");
    try (GraphSession inf = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
      Tensor got = leading(inf.run(with(batch, p.feeds()), logits).get("logits"), want.shape());
      assertThat(got.maxErrorOfMax(want)).as(id).isLessThan(1e-5);
      LoraParams oneScale = new LoraParams(p.tree(), p.modules(), p.rank(), p.scale());
      Tensor wrong =
          leading(inf.run(with(batch, oneScale.feeds()), logits).get("logits"), want.shape());
      assertThat(wrong.maxErrorOfMax(want)).as(id + " with one scale").isGreaterThan(1e-4);
    }
  }

  /** The tensor, or the leading block of a [d0, d1, d2] one with the given smaller shape. */
  private static Tensor leading(Tensor t, long[] shape) {
    long[] full = t.shape();
    if (java.util.Arrays.equals(full, shape)) {
      return t;
    }
    float[] v = t.floats();
    float[] w = new float[(int) (shape[0] * shape[1] * shape[2])];
    for (int i = 0; i < shape[0]; i++) {
      for (int j = 0; j < shape[1]; j++) {
        System.arraycopy(
            v,
            (int) ((i * full[1] + j) * full[2]),
            w,
            (int) ((i * shape[1] + j) * shape[2]),
            (int) shape[2]);
      }
    }
    return Tensor.ofFloats(shape, w);
  }

  @Test
  void rsLoraScalesEachModuleByTheSquareRootOfItsRank() throws IOException {
    TrainResult r =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("rs"))
                .model(TINY)
                .rank(1)
                .alpha(8)
                .rsLora(true)
                .rankPattern(Map.of("value", 4))
                .steps(2)
                .threads(1)
                .build());
    // at r = 1 alpha / r = alpha / sqrt(r): only the stored use_rslora tells the values' scale
    for (Path p : List.of(r.adapter(), dir.resolve("peft"))) {
      if (!p.equals(r.adapter())) {
        LoraTrainer.export(r.adapter(), TINY, AdapterFormat.PEFT, p);
      }
      AdapterWeights a = LoraTrainer.loadAdapter(p, TINY);
      assertThat(a.scale(Q0)).as(p.toString()).isEqualTo(8f);
      assertThat(a.scale(V0)).as(p.toString()).isEqualTo(4f); // 8 / sqrt(4)
    }
  }

  @Test
  void anAdapterToStartFromNeedsTheRanksOfThePatterns() throws IOException {
    TrainResult first = train(dir.resolve("first"));
    TrainResult again =
        LoraTrainer.train(
            TrainOptions.builder(dir.resolve("again"))
                .model(TINY)
                .init(first.adapter())
                .rank(4)
                .alpha(8)
                .rankPattern(ranks())
                .steps(1)
                .lr(0)
                .threads(1)
                .build());
    // lr 0: the tensors come back as they went in, at their ranks
    String b0 = TensorNames.loraB(Q0);
    assertThat(LoraTrainer.loadAdapter(again.adapter(), TINY).tensors().get(b0).floats())
        .isEqualTo(LoraTrainer.loadAdapter(first.adapter(), TINY).tensors().get(b0).floats());
    assertThatThrownBy(
            () ->
                LoraTrainer.train(
                    TrainOptions.builder(dir.resolve("plain"))
                        .model(TINY)
                        .init(first.adapter())
                        .rank(4)
                        .steps(1)
                        .threads(1)
                        .build()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("the adapter has rank 2 at " + Q0 + " but --rank 4 give 4");
  }

  @Test
  void patternsThatMatchNoModuleOrBadValuesAreRefused() {
    assertThatThrownBy(
            () ->
                LoraTrainer.train(
                    TrainOptions.builder(dir.resolve("typo"))
                        .model(TINY)
                        .rankPattern(Map.of("valeu", 4))
                        .steps(1)
                        .build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rank_pattern valeu matches no adapted module")
        .hasMessageContaining(Q0);
    assertThat(dir.resolve("typo")).doesNotExist();
    assertThatThrownBy(() -> TrainOptions.builder(dir).rankPattern(Map.of("value", 0)).build())
        .hasMessageContaining("rank_pattern value: a rank must be >= 1, got 0");
    assertThatThrownBy(() -> TrainOptions.builder(dir).alphaPattern(Map.of("value", 0.0)).build())
        .hasMessageContaining("alpha_pattern value: an alpha must be > 0");
    assertThat(Main.run("train", "--rank-pattern", "value", "--out", dir.resolve("x").toString()))
        .isNotZero();
  }

  private static Map<String, Tensor> with(Map<String, Tensor> batch, Map<String, Tensor> params) {
    Map<String, Tensor> f = new LinkedHashMap<>(batch);
    f.putAll(params);
    return f;
  }
}
