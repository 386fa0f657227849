package dev.loraort.trainer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions on several devices (CPU sessions here) return what one session returns on the whole
 * batch: the loss and every gradient, weighted by the terms each shard's loss averages.
 */
class DataParallelGraphTest {
  static final Path GPT2 = Path.of("../onnx-models/tiny-gpt2-lm");
  static final Path ROBERTA = Path.of("../onnx-models/tiny-roberta-cls");
  static final List<ExecutionDevice> TWO_CPUS = List.of(ExecutionDevice.CPU, ExecutionDevice.CPU);

  /**
   * The largest difference allowed, relative to the largest |value| of each output: the shards sum
   * in another order than one session does (float32), and the combination rounds once more.
   * Measured worst: 5.7e-7 (tiny-gpt2-lm), 5.0e-7 (tiny-roberta-cls).
   */
  static final double TOLERANCE = 2e-6;

  @TempDir Path dir;

  @Test
  void twoDevicesWeighShardsByTheTokensTheyPredict() throws IOException {
    Manifest m = Manifest.read(GPT2);
    Map<String, Tensor> batch = batch(m, lmExamples(m, 8), 8);
    Map<String, Tensor> feeds = feeds(m, batch);
    List<String> outputs = outputs(m);
    Map<String, Tensor> one;
    Map<String, Tensor> first;
    Map<String, Tensor> second;
    try (ModelGraphs g = ModelGraphs.open(m, List.of(ExecutionDevice.CPU), 1, false)) {
      assertThat(g.train()).isInstanceOf(GraphSession.class); // one device: the plain session
      one = g.train().run(feeds, outputs);
      first = g.train().run(rowsOf(m, feeds, 0, 4), outputs);
      second = g.train().run(rowsOf(m, feeds, 4, 8), outputs);
    }
    try (ModelGraphs g = ModelGraphs.open(m, TWO_CPUS, 1, false)) {
      assertThat(g.train()).isInstanceOf(DataParallelGraph.class);
      Map<String, Tensor> two = g.train().run(feeds, outputs);
      assertThat(two.keySet()).containsExactlyElementsOf(outputs);
      double worst = worstRelativeDifference(two, one);
      System.out.printf("tiny-gpt2-lm, 2 devices vs 1: worst relative difference %.2e%n", worst);
      assertThat(worst).isLessThanOrEqualTo(TOLERANCE);
    }
    // the batch is one that tells: the shards predict 2 tokens per row against all of theirs, so an
    // equal-weight mean of the shards is far from the whole batch's
    assertThat(worstRelativeDifference(equalWeightMean(first, second), one)).isGreaterThan(1e-2);
  }

  @Test
  void aShardWithoutAnyPredictedTokenIsLeftOut() throws IOException {
    Manifest m = Manifest.read(GPT2);
    Map<String, Tensor> batch = batch(m, lmExamples(m, 6), 6);
    long[] labels = batch.get(LossWeight.LABELS).longs();
    Arrays.fill(labels, 0, labels.length / 2, -100); // the first shard's 3 rows: nothing to predict
    Map<String, Tensor> feeds = feeds(m, batch);
    try (ModelGraphs one = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false);
        ModelGraphs two = ModelGraphs.open(m, TWO_CPUS, 1, false)) {
      Map<String, Tensor> alone =
          one.train().run(rowsOf(m, feeds, 0, 3), List.of(TensorNames.LOSS));
      assertThat(alone.get(TensorNames.LOSS).floats()[0]).isNaN(); // PyTorch's export: 0 / 0
      Map<String, Tensor> want = one.train().run(feeds, outputs(m));
      Map<String, Tensor> got = two.train().run(feeds, outputs(m));
      assertThat(got.get(TensorNames.LOSS).floats()[0]).isFinite();
      assertThat(worstRelativeDifference(got, want)).isLessThanOrEqualTo(TOLERANCE);
    }
  }

  @Test
  void threeDevicesSplitFiveExamplesUnevenlyAndTwoExamplesRunOnTwoOfThem() throws IOException {
    Manifest m = Manifest.read(ROBERTA);
    List<JsonlDataset.Example> ex =
        JsonlDataset.read(ROBERTA.resolve("sample/train.jsonl"), m).subList(0, 5);
    try (ModelGraphs one = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false);
        ModelGraphs three =
            ModelGraphs.open(
                m,
                List.of(ExecutionDevice.CPU, ExecutionDevice.CPU, ExecutionDevice.CPU),
                1,
                false)) {
      for (int size : new int[] {5, 2}) {
        Map<String, Tensor> batch = batch(m, ex.subList(0, size), size);
        // shards of 2, 2 and 1 examples, the first with one label ignored: weights 1, 2, 1
        batch.get(LossWeight.LABELS).longs()[0] = -100;
        Map<String, Tensor> feeds = feeds(m, batch);
        double worst =
            worstRelativeDifference(
                three.train().run(feeds, outputs(m)), one.train().run(feeds, outputs(m)));
        System.out.printf(
            "tiny-roberta-cls, %d examples on 3 devices vs 1: worst relative difference %.2e%n",
            size, worst);
        assertThat(worst).as("%d examples", size).isLessThanOrEqualTo(TOLERANCE);
      }
    }
  }

  @Test
  void inBatchContrastiveLossesAndImageBatchesAreRefusedNamingTheReason() throws IOException {
    Manifest clip = Manifest.read(Path.of("../onnx-models/tiny-clip"));
    assertThatThrownBy(() -> ModelGraphs.open(clip, TWO_CPUS, 1, false))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining("task contrastive cannot train on several devices")
        .hasMessageContaining("in-batch contrastive loss")
        .hasMessageContaining("--device");
    Manifest qwen = Manifest.read(Path.of("../onnx-models/tiny-qwen2vl"));
    assertThatThrownBy(() -> ModelGraphs.open(qwen, TWO_CPUS, 1, false))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining("task vl-causal-lm cannot train on several devices");
  }

  private List<JsonlDataset.Example> lmExamples(Manifest m, int n) throws IOException {
    return JsonlDataset.read(LmExamples.write(dir.resolve("lm.jsonl"), n, 5), m);
  }

  static Map<String, Tensor> batch(Manifest m, List<JsonlDataset.Example> ex, int size) {
    return new LinkedHashMap<>(Batcher.inOrder(ex, m, size).next());
  }

  /** The batch with the fixture's non-zero A and B, so that every gradient is non-zero. */
  static Map<String, Tensor> feeds(Manifest m, Map<String, Tensor> batch) throws IOException {
    Fixture fx = Fixture.read(m.dir());
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
    return ModelGraphs.feeds(batch, p.feeds(), Map.of());
  }

  static List<String> outputs(Manifest m) throws IOException {
    Fixture fx = Fixture.read(m.dir());
    return ModelGraphs.trainOutputs(LoraParams.of(m, fx.params(), 1f, "fixture").tree().names());
  }

  private static Map<String, Tensor> rowsOf(
      Manifest m, Map<String, Tensor> feeds, int from, int to) {
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    m.inputs()
        .forEach(in -> f.put(in.name(), DataParallelGraph.rows(feeds.get(in.name()), from, to)));
    return f;
  }

  private static Map<String, Tensor> equalWeightMean(Map<String, Tensor> a, Map<String, Tensor> b) {
    Map<String, Tensor> mean = new LinkedHashMap<>();
    a.forEach(
        (name, x) -> {
          float[] u = x.floats();
          float[] v = b.get(name).floats();
          float[] w = new float[u.length];
          for (int i = 0; i < w.length; i++) {
            w[i] = (u[i] + v[i]) / 2;
          }
          mean.put(name, Tensor.ofFloats(x.shape(), w));
        });
    return mean;
  }

  /** The largest over outputs of max |got - want| / max |want|. */
  static double worstRelativeDifference(Map<String, Tensor> got, Map<String, Tensor> want) {
    double worst = 0;
    for (Map.Entry<String, Tensor> e : want.entrySet()) {
      float[] w = e.getValue().floats();
      float[] g = got.get(e.getKey()).floats();
      assertThat(g).as(e.getKey()).hasSameSizeAs(w);
      double diff = 0;
      double scale = 0;
      for (int i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs((double) g[i] - w[i]));
        scale = Math.max(scale, Math.abs(w[i]));
      }
      assertThat(scale).as("%s is all zeros", e.getKey()).isPositive();
      worst = Math.max(worst, diff / scale);
    }
    return worst;
  }
}
