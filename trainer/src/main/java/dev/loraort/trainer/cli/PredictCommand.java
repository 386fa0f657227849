package dev.loraort.trainer.cli;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.InputLimits;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.TextEncoder;
import dev.loraort.trainer.eval.Evaluator;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.params.LoraParams;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code lora-trainer predict}: an adapter applied to unlabelled data, one JSON line per example.
 */
@Command(
    name = "predict",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Runs a model with an adapter (any format; none: the base model) on data without labels and"
          + " writes one JSON line per example, in input order: a classifier's label, its name"
          + " when the model's config has id2label, and the class probabilities; an embedding"
          + " model's sentence_embedding; a causal LM's greedy continuation (token ids, and text"
          + " with a tokenizer).%n"
    })
final class PredictCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      description =
          "the model directory; default: the one the adapter's run was trained on (run.json"
              + " beside the adapter)")
  Path model;

  @Option(names = "--adapter", paramLabel = "PATH", description = "the adapter, any format")
  Path adapter;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      required = true,
      description = "JSONL (token ids or text) or CSV (text); labels, if present, are ignored")
  Path data;

  @Mixin DataOptions read = new DataOptions();

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "the JSONL to write (atomically); default: standard output")
  Path out;

  @Option(names = "--batch-size", description = "default: ${DEFAULT-VALUE}")
  int batchSize = 32;

  @Option(
      names = "--max-new-tokens",
      description = "causal LMs: tokens to generate per example (default: ${DEFAULT-VALUE})")
  int maxNewTokens = 20;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Override
  public Integer call() throws Exception {
    model = AdapterDataOptions.modelFor(model, adapter);
    Manifest m = Manifest.read(model);
    Manifest inferOnly = inferInputsOnly(m);
    Examples.TextOptions text = read.textOptions(model, inferOnly, data);
    List<JsonlDataset.Example> examples = Examples.load(data, inferOnly, text);
    LoraParams p;
    List<String> names = labelNames(m);
    if (adapter != null) {
      AdapterWeights a = Adapters.read(adapter, m);
      p = LoraParams.of(m, a.tensors(), a, adapter.toString());
      List<String> trained = TrainingJob.labelNames(a); // the names it was trained with
      if (trained != null) {
        names = trained;
      }
    } else { // B = 0: the base model's outputs
      p = LoraParams.init(m, m.lora().defaultRank(), 1f, new SplittableRandom(0)); // s: B = 0
    }
    List<JsonObject> rows;
    try (Evaluator s =
        Evaluator.open(m, examples, batchSize, ExecutionDevice.parse(device, true), 0)) {
      if (m.task().contains("causal-lm")) {
        try (TextEncoder enc =
            text == null ? null : TextEncoder.open(text.tokenizer(), read.maxLength)) {
          rows = generate(inferOnly, s, p, examples, enc);
        }
      } else {
        rows =
            batched(
                inferOnly, s, p, examples, batchSize, read.labels != null ? read.labels : names);
      }
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    Gson gson = new Gson();
    for (JsonObject r : rows) {
      buf.write(gson.toJson(r).getBytes(StandardCharsets.UTF_8));
      buf.write('\n');
    }
    if (out == null) {
      System.out.write(buf.toByteArray());
      System.out.flush();
    } else {
      AtomicFiles.write(out, o -> buf.writeTo(o));
      System.err.printf("wrote %d predictions to %s%n", rows.size(), out);
    }
    return 0;
  }

  /** The manifest with the infer graph's inputs as the batch inputs: no labels to read. */
  private static Manifest inferInputsOnly(Manifest m) {
    return new Manifest(
        m.dir(),
        m.id(),
        m.family(),
        m.task(),
        m.hfConfig(),
        m.hfClass(),
        m.graphs(),
        m.inferInputs(),
        m.inferInputs(),
        m.inferOutputs(),
        m.lora(),
        m.trainable(),
        m.baseWeights(),
        m.tokenizer());
  }

  /** Classifiers and embedding models: one infer run per batch. */
  private static List<JsonObject> batched(
      Manifest m,
      Evaluator s,
      LoraParams p,
      List<JsonlDataset.Example> examples,
      int batchSize,
      List<String> names) {
    boolean embedding = m.task().equals(Evaluator.EMBEDDING);
    String output = embedding ? TensorNames.SENTENCE_EMBEDDING : TensorNames.LOGITS;
    Batcher batches = Batcher.inOrder(examples, m, batchSize);
    List<JsonObject> rows = new ArrayList<>();
    for (int b = 0; b < batches.batchesPerEpoch(); b++) {
      Tensor t = s.run(batches.next(), p, output);
      int width = (int) t.shape()[1];
      float[] v = t.floats();
      for (int i = 0; i < t.shape()[0]; i++) {
        float[] row = Arrays.copyOfRange(v, i * width, (i + 1) * width);
        JsonObject o = new JsonObject();
        o.addProperty("index", rows.size());
        if (embedding) {
          o.add(TensorNames.SENTENCE_EMBEDDING, array(row));
        } else {
          double[] prob = softmax(row);
          int best = 0;
          for (int c = 1; c < prob.length; c++) {
            best = prob[c] > prob[best] ? c : best;
          }
          o.addProperty("label", best);
          if (best < names.size()) {
            o.addProperty("label_name", names.get(best));
          }
          JsonArray ps = new JsonArray();
          for (double x : prob) {
            ps.add((float) x);
          }
          o.add("probabilities", ps);
        }
        rows.add(o);
      }
    }
    return rows;
  }

  /** Greedy decoding, one example at a time, the whole sequence re-run per token (no cache). */
  private List<JsonObject> generate(
      Manifest m, Evaluator s, LoraParams p, List<JsonlDataset.Example> examples, TextEncoder enc) {
    long maxLength = InputLimits.of(m).maxLength();
    long eos = eosToken(m);
    List<JsonObject> rows = new ArrayList<>();
    for (JsonlDataset.Example e : examples) {
      List<Long> ids = new ArrayList<>();
      for (long id : (long[]) e.values().get("input_ids")) {
        ids.add(id);
      }
      int prompt = ids.size();
      while (ids.size() - prompt < maxNewTokens && (maxLength == 0 || ids.size() < maxLength)) {
        long[] x = ids.stream().mapToLong(Long::longValue).toArray();
        long[] mask = new long[x.length];
        Arrays.fill(mask, 1);
        Map<String, Tensor> batch = new LinkedHashMap<>();
        batch.put("input_ids", Tensor.ofLongs(new long[] {1, x.length}, x));
        batch.put("attention_mask", Tensor.ofLongs(new long[] {1, x.length}, mask));
        Tensor logits = s.run(batch, p, TensorNames.LOGITS);
        int vocab = (int) logits.shape()[2];
        float[] l = logits.floats();
        int last = (x.length - 1) * vocab;
        int best = 0;
        for (int k = 1; k < vocab; k++) {
          best = l[last + k] > l[last + best] ? k : best;
        }
        ids.add((long) best);
        if (best == eos) {
          break;
        }
      }
      long[] added = ids.subList(prompt, ids.size()).stream().mapToLong(Long::longValue).toArray();
      JsonObject o = new JsonObject();
      o.addProperty("index", rows.size());
      JsonArray a = new JsonArray();
      Arrays.stream(added).forEach(a::add);
      o.add("continuation_ids", a);
      if (enc != null) {
        o.addProperty("continuation", enc.decode(added));
      }
      rows.add(o);
    }
    return rows;
  }

  private static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float x : logits) {
      max = Math.max(max, x);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < p.length; i++) {
      p[i] = Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  private static JsonArray array(float[] v) {
    JsonArray a = new JsonArray();
    for (float x : v) {
      a.add(x);
    }
    return a;
  }

  /** The config's id2label names in class order, or none (--labels and the adapter's win). */
  private static List<String> labelNames(Manifest m) {
    JsonObject c = m.hfConfig();
    List<String> names = new ArrayList<>();
    if (c == null || !c.has("id2label") || !c.get("id2label").isJsonObject()) {
      return names;
    }
    JsonObject map = c.getAsJsonObject("id2label");
    for (int i = 0; map.has(Integer.toString(i)); i++) {
      JsonElement e = map.get(Integer.toString(i));
      names.add(e.isJsonPrimitive() ? e.getAsString() : e.toString());
    }
    return names;
  }

  private static long eosToken(Manifest m) {
    JsonObject c = m.hfConfig();
    JsonObject t = c != null && c.has("text_config") ? c.getAsJsonObject("text_config") : c;
    for (JsonObject o : new JsonObject[] {t, c}) {
      if (o != null && o.has("eos_token_id") && o.get("eos_token_id").isJsonPrimitive()) {
        return o.get("eos_token_id").getAsLong();
      }
    }
    return -1;
  }
}
