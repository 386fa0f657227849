package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.ortadapter.OrtAdapterFile;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The adapter formats load where users load them: infer.onnx's outputs with the LoRA tensors as
 * inputs equal those with the ONNX Runtime adapter active and those of the merged model (1e-5 of
 * the output's max), every format round-trips bit for bit, and bad files fail naming the file and
 * the tensor without touching existing outputs.
 */
class AdapterFormatsTest {
  @TempDir Path dir;

  /**
   * The fixture's seeded, non-zero A and B as a trained adapter (so every format carries a real
   * delta).
   */
  static AdapterWeights adapter(Manifest m, Fixture fx) throws IOException {
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    return new AdapterWeights(
        p.tree().tensors(), p.rank(), p.scale() * p.rank(), p.scale(), Map.of("method", "lora"));
  }

  static Map<String, Tensor> batchOnly(Manifest m, Fixture fx) {
    Map<String, Tensor> f = new LinkedHashMap<>();
    m.inferInputs().forEach(s -> f.put(s.name(), fx.batch().get(s.name())));
    return f;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"tiny-roberta-cls", "tiny-bert-cls", "tiny-gpt2-lm", "tiny-clip", "tiny-qwen2vl"})
  void inputsOrtAdapterAndMergedModelGiveTheSameOutputs(String id) throws IOException {
    sameOutputsInEveryShippedForm(Manifest.read(Path.of("../onnx-models", id)), dir);
  }

  /**
   * The model's infer graph with the fixture's adapter as inputs, with the ONNX Runtime adapter
   * active, and as a merged model: the same outputs (1e-5 of max), and the torch logits (1e-4).
   */
  static void sameOutputsInEveryShippedForm(Manifest m, Path dir) throws IOException {
    String id = m.id();
    Fixture fx = Fixture.read(m.dir());
    AdapterWeights a = adapter(m, fx);
    Path ort = dir.resolve("a.onnx_adapter");
    Path merged = dir.resolve("merged.onnx");
    Adapters.write(ort, AdapterFormat.ORT_ADAPTER, a, m);
    Adapters.write(merged, AdapterFormat.MERGED, a, m);
    List<String> outs = m.inferOutputs().stream().map(Manifest.IoSpec::name).toList();
    Map<String, Tensor> viaInputs;
    Map<String, Tensor> viaAdapter;
    Map<String, Tensor> withoutDelta;
    try (GraphSession inf = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
      viaInputs = inf.run(fx.inferFeeds(m), outs);
      Map<String, Tensor> zeroB = new LinkedHashMap<>(fx.inferFeeds(m));
      m.lora()
          .modules()
          .forEach(
              mod ->
                  zeroB.computeIfPresent(
                      TensorNames.loraB(mod.name()),
                      (k, v) -> Tensor.ofFloats(v.shape(), new float[v.size()])));
      withoutDelta = inf.run(zeroB, outs);
      Map<String, Tensor> feeds = batchOnly(m, fx);
      feeds.put(
          TensorNames.LORA_SCALE, Tensor.scalar(OrtAdapterFile.FED_SCALE)); // s is folded into B
      viaAdapter = inf.run(feeds, outs, ort);
    }
    Map<String, Tensor> viaMerged;
    try (GraphSession mg = GraphSession.open(merged, ExecutionDevice.CPU, 1)) {
      assertThat(mg.io(false).keySet())
          .containsExactlyInAnyOrderElementsOf(batchOnly(m, fx).keySet());
      viaMerged = mg.run(batchOnly(m, fx), outs);
    }
    for (String o : outs) {
      assertClose(id + " " + o + " (ort adapter)", viaAdapter.get(o), viaInputs.get(o), 1e-5);
      assertClose(id + " " + o + " (merged)", viaMerged.get(o), viaInputs.get(o), 1e-5);
    }
    // the comparisons above are meaningful only if the adapter moves the outputs: B = 0 must differ
    assertThat(withoutDelta.get("logits").maxErrorOfMax(viaInputs.get("logits")))
        .as(id)
        .isGreaterThan(1e-3);
    assertClose(
        id + " logits vs torch",
        viaInputs.get("logits"),
        fx.expected().get(Fixture.INFER + "logits"),
        1e-4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"onnx", "ort-adapter", "peft", "safetensors"})
  void everyFormatRoundTripsBitForBit(String format) throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    AdapterWeights a = adapter(m, Fixture.read(m.dir()));
    Path out =
        dir.resolve(
            "adapter."
                + (format.equals("ort-adapter")
                    ? "onnx_adapter"
                    : format.equals("peft") ? "peft" : format));
    Adapters.write(out, AdapterFormat.parse(format), a, m);
    AdapterWeights back = Adapters.read(out, m);
    assertThat(back.rank()).isEqualTo(a.rank());
    assertThat(back.tensors().keySet()).containsExactlyElementsOf(a.tensors().keySet());
    a.tensors()
        .forEach(
            (k, v) -> {
              assertThat(back.tensors().get(k).shape()).as(k).isEqualTo(v.shape());
              // what is applied, s * B (the .onnx_adapter folds s into B; s = 8 here, so this is
              // exact)
              float f = k.endsWith(".lora_B.weight") ? a.scale() / back.scale() : 1f;
              float[] want = v.floats().clone();
              for (int i = 0; i < want.length; i++) {
                want[i] *= f;
              }
              assertThat(back.tensors().get(k).floats()).as(k).isEqualTo(want);
            });
  }

  @Test
  void peftDirectoryUsesPeftKeysAndConfig() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    Path out = dir.resolve("peft");
    Adapters.write(out, AdapterFormat.PEFT, adapter(m, Fixture.read(m.dir())), m);
    String cfg = Files.readString(out.resolve("adapter_config.json"));
    assertThat(cfg)
        .contains("\"fan_in_fan_out\": true")
        .contains("\"target_modules\": [\n    \"c_attn\"\n  ]")
        .contains("\"task_type\": \"CAUSAL_LM\"")
        .contains("\"r\": 4")
        .contains("\"lora_alpha\": 32.0");
    var keys =
        dev.loraort.artifacts.safetensors.Safetensors.read(out.resolve("adapter_model.safetensors"))
            .tensors();
    assertThat(keys).containsKey("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
    assertThat(Files.getPosixFilePermissions(out.resolve("adapter_config.json")).toString())
        .contains("OTHERS_READ");
  }

  @Test
  void corruptFilesAndMismatchesNameFileAndTensorAndKeepOutputs() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    AdapterWeights a = adapter(m, Fixture.read(m.dir()));
    Path ort = dir.resolve("a.onnx_adapter");
    Adapters.write(ort, AdapterFormat.ORT_ADAPTER, a, m);
    byte[] good = Files.readAllBytes(ort);
    Path cut = dir.resolve("cut.onnx_adapter");
    Files.write(cut, Arrays.copyOf(good, good.length / 2));
    assertThatThrownBy(() -> Adapters.read(cut, m))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(cut.toString());
    byte[] bad = good.clone();
    bad[4] = 'X';
    Files.write(cut, bad);
    assertThatThrownBy(() -> Adapters.read(cut, m)).hasMessageContaining("identifier");
    // a merge that is not finite fails, naming the module, and leaves the existing merged model as
    // it was
    Path merged = dir.resolve("merged.onnx");
    Adapters.write(merged, AdapterFormat.MERGED, a, m);
    byte[] before = Files.readAllBytes(merged);
    Map<String, Tensor> t = new LinkedHashMap<>(a.tensors());
    String b0 = TensorNames.loraB(m.lora().modules().get(1).name());
    float[] inf = t.get(b0).floats().clone();
    inf[0] = Float.POSITIVE_INFINITY;
    t.put(b0, Tensor.ofFloats(t.get(b0).shape(), inf));
    AdapterWeights broken = new AdapterWeights(t, a.rank(), a.alpha(), a.scale(), Map.of());
    assertThatThrownBy(() -> Adapters.write(merged, AdapterFormat.MERGED, broken, m))
        .hasMessageContaining(m.lora().modules().get(1).name())
        .hasMessageContaining("non-finite");
    assertThat(Files.readAllBytes(merged)).isEqualTo(before);
    // a tensor of the wrong shape for the model is named with both shapes
    t.put(b0, Tensor.ofFloats(new long[] {64, 3}, new float[64 * 3]));
    Path st = dir.resolve("wrong.safetensors");
    Adapters.write(
        st,
        AdapterFormat.SAFETENSORS,
        new AdapterWeights(t, a.rank(), a.alpha(), a.scale(), Map.of()),
        m);
    assertThatThrownBy(() -> Adapters.read(st, m))
        .hasMessageContaining(st + ": " + b0)
        .hasMessageContaining("[64, 3]");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void aPeftConfigWhoseRankDisagreesWithItsTensorsIsRefused() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    Path peft = dir.resolve("peft");
    Adapters.write(peft, AdapterFormat.PEFT, adapter(m, Fixture.read(m.dir())), m);
    Path config = peft.resolve("adapter_config.json");
    String text = Files.readString(config);
    int r = adapter(m, Fixture.read(m.dir())).rank();
    // r = 2 * rank would halve the scale (alpha / r) without a word before
    Files.writeString(config, text.replace("\"r\": " + r + ",", "\"r\": " + 2 * r + ","));
    assertThat(Files.readString(config)).isNotEqualTo(text);
    assertThatThrownBy(() -> Adapters.read(peft, m))
        .hasMessageContaining(peft.toString())
        .hasMessageContaining("the adapter's rank (r) is " + 2 * r);
  }

  static void assertClose(String what, Tensor got, Tensor want, double tol) {
    assertThat(got.floats()).as(what).hasSameSizeAs(want.floats());
    assertThat(got.maxErrorOfMax(want)).as("%s: max error of max", what).isLessThanOrEqualTo(tol);
  }
}
