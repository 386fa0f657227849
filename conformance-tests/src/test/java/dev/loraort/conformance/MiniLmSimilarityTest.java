package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The real all-MiniLM-L6-v2 through our infer.onnx at zero LoRA, tokenized with the jar's bundled
 * tokenizer.json, mean-pooled and L2-normalised: the sentence similarities of docs/assets.md.
 */
class MiniLmSimilarityTest {
  static final List<String> SENTENCES =
      List.of(
          "A man is eating food.",
          "A man is eating a piece of bread.",
          "A man is riding a horse.",
          "The stock market fell sharply today.");

  @Test
  void realWeightsGiveTheReferenceSimilarities() throws IOException {
    Manifest m = MiniLm.materialized();
    String entry = "all-minilm-l6-v2-tokenizer.json";
    int n = SENTENCES.size();
    long[][] ids = new long[n][];
    long[][] mask = new long[n][];
    try (HuggingFaceTokenizer tok =
        HuggingFaceTokenizer.newInstance(
            new ByteArrayInputStream(MiniLm.resource(entry)), Map.of())) {
      for (int i = 0; i < n; i++) {
        Encoding e = tok.encode(SENTENCES.get(i));
        ids[i] = e.getIds();
        mask[i] = e.getAttentionMask();
      }
    }
    int seq =
        0; // encodings may or may not be padded (tokenizer.json pads to 128): pad to the longest,
    // pool by mask
    for (long[] x : ids) {
      seq = Math.max(seq, x.length);
    }
    long[] flatIds = new long[n * seq];
    long[] flatMask = new long[n * seq];
    for (int i = 0; i < n; i++) {
      System.arraycopy(ids[i], 0, flatIds, i * seq, ids[i].length);
      System.arraycopy(mask[i], 0, flatMask, i * seq, mask[i].length);
    }
    long[] shape = {n, seq};
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put("input_ids", Tensor.ofLongs(shape, flatIds));
    feeds.put("attention_mask", Tensor.ofLongs(shape, flatMask));
    feeds.put("token_type_ids", Tensor.ofLongs(shape, new long[n * seq]));
    LoraParams zero = LoraParams.init(m, 8, 2f, new SplittableRandom(0));
    m.lora()
        .modules()
        .forEach(mod -> java.util.Arrays.fill(zero.tree().get(TensorNames.loraA(mod.name())), 0f));
    feeds.putAll(zero.feeds());
    float[] h;
    long[] hs;
    try (GraphSession s = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 0)) {
      Tensor t = s.run(feeds, List.of("last_hidden_state")).get("last_hidden_state");
      h = t.floats();
      hs = t.shape();
    }
    int d = (int) hs[2];
    double[][] emb = new double[n][d];
    for (int i = 0; i < n; i++) {
      double count = 0;
      for (int j = 0; j < seq; j++) {
        if (flatMask[i * seq + j] == 1) {
          count++;
          for (int k = 0; k < d; k++) {
            emb[i][k] += h[(i * seq + j) * d + k];
          }
        }
      }
      double norm = 0;
      for (int k = 0; k < d; k++) {
        emb[i][k] /= count;
        norm += emb[i][k] * emb[i][k];
      }
      for (int k = 0; k < d; k++) {
        emb[i][k] /= Math.sqrt(norm);
      }
    }
    double[] want = {0.755, 0.247, 0.004};
    for (int i = 1; i < n; i++) {
      double cos = 0;
      for (int k = 0; k < d; k++) {
        cos += emb[0][k] * emb[i][k];
      }
      System.out.printf(
          java.util.Locale.ROOT,
          "MiniLM cos(s0, s%d) = %.4f (docs/assets.md: %.3f)%n",
          i,
          cos,
          want[i - 1]);
      assertThat(cos)
          .as("cos(%s, %s)", SENTENCES.get(0), SENTENCES.get(i))
          .isCloseTo(want[i - 1], within(0.005));
    }
  }
}
