package dev.loraort.trainer.eval;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.CaptionedImages;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Metrics of adapters on fixed labelled examples, through the model's infer graph: classification,
 * perplexity (causal LMs) or zero-shot classification (contrastive image-text models). Owns one
 * infer session, reused across evaluations; close it.
 */
public final class Evaluator implements AutoCloseable {
  /** The task of contrastive image-text models (CLIP). */
  public static final String CONTRASTIVE = "contrastive";

  /** The task of sentence-embedding models (prepare --task embedding). */
  public static final String EMBEDDING = "embedding";

  private static final String TEXT_EMBEDS = "text_embeds";
  private static final String IMAGE_EMBEDS = "image_embeds";

  private final Manifest m;
  private final GraphSession session;
  private final List<JsonlDataset.Example> data;
  private final int batchSize;

  private Evaluator(
      Manifest m, GraphSession session, List<JsonlDataset.Example> data, int batchSize) {
    this.m = m;
    this.session = session;
    this.data = List.copyOf(data);
    this.batchSize = batchSize;
  }

  /**
   * @param m a sequence-classification model (logits [batch, classes])
   * @param data labelled examples
   * @param batchSize examples per run
   * @param device where to run
   * @param threads CPU threads
   * @return the evaluator
   */
  public static Evaluator open(
      Manifest m,
      List<JsonlDataset.Example> data,
      int batchSize,
      ExecutionDevice device,
      int threads) {
    if (data.isEmpty()) {
      throw new IllegalArgumentException("no evaluation examples");
    }
    return new Evaluator(m, ModelGraphs.openInfer(m, device, threads), data, batchSize);
  }

  /**
   * One evaluation with its own session.
   *
   * @param m the model
   * @param p the adapter's parameters
   * @param data labelled examples
   * @param batchSize examples per run
   * @param device where to run
   * @param threads CPU threads
   * @return the metrics
   */
  public static ClassificationMetrics classify(
      Manifest m,
      LoraParams p,
      List<JsonlDataset.Example> data,
      int batchSize,
      ExecutionDevice device,
      int threads) {
    try (Evaluator e = open(m, data, batchSize, device, threads)) {
      return e.classify(p);
    }
  }

  /**
   * @param p the parameters to score (read only)
   * @return accuracy, F1, MCC and the confusion matrix
   */
  public ClassificationMetrics classify(LoraParams p) {
    Batcher batches = Batcher.inOrder(data, m, batchSize);
    int[] labels = new int[data.size()];
    int[] predicted = new int[data.size()];
    int classes = 0;
    int at = 0;
    for (int b = 0; b < batches.batchesPerEpoch(); b++) {
      Map<String, Tensor> batch = batches.next();
      Tensor logits = logits(batch, p);
      long[] shape = logits.shape();
      if (shape.length != 2) {
        throw new IllegalArgumentException(
            m.id()
                + ": logits have shape "
                + java.util.Arrays.toString(shape)
                + "; classification needs [batch, classes]");
      }
      classes = (int) shape[1];
      float[] l = logits.floats();
      long[] y = batch.get("labels").longs();
      for (int i = 0; i < shape[0]; i++, at++) {
        int best = 0;
        for (int c = 1; c < classes; c++) {
          if (l[i * classes + c] > l[i * classes + best]) {
            best = c;
          }
        }
        predicted[at] = best;
        labels[at] = (int) y[i];
      }
    }
    return ClassificationMetrics.of(labels, predicted, classes);
  }

  /**
   * Perplexity of a causal LM through its infer graph: exp of the mean negative log-likelihood of
   * each next token (position t predicts label t + 1; labels of -100 and padding are skipped), over
   * all tokens of all examples, from a log-softmax of the logits in double.
   *
   * @param p the parameters to score (read only)
   * @return {nll per token, perplexity, tokens}
   */
  public double[] perplexity(LoraParams p) {
    Batcher batches = Batcher.inOrder(data, m, batchSize);
    double nll = 0;
    long tokens = 0;
    for (int b = 0; b < batches.batchesPerEpoch(); b++) {
      Map<String, Tensor> batch = batches.next();
      Tensor logits = logits(batch, p);
      long[] shape = logits.shape();
      if (shape.length != 3) {
        throw new IllegalArgumentException(
            m.id()
                + ": logits have shape "
                + java.util.Arrays.toString(shape)
                + "; an LM needs [batch, seq, vocab]");
      }
      int seq = (int) shape[1];
      int vocab = (int) shape[2];
      float[] l = logits.floats();
      long[] labels = batch.get("labels").longs();
      for (int i = 0; i < shape[0]; i++) {
        for (int t = 0; t + 1 < seq; t++) {
          long y = labels[i * seq + t + 1];
          if (y < 0) {
            continue;
          }
          int off = (i * seq + t) * vocab;
          double max = Double.NEGATIVE_INFINITY;
          for (int v = 0; v < vocab; v++) {
            max = Math.max(max, l[off + v]);
          }
          double sum = 0;
          for (int v = 0; v < vocab; v++) {
            sum += Math.exp(l[off + v] - max);
          }
          nll += max + Math.log(sum) - l[off + (int) y];
          tokens++;
        }
      }
    }
    double mean = nll / tokens;
    return new double[] {mean, Math.exp(mean), tokens};
  }

  /**
   * The metrics that fit the model's task, as periodic evaluation logs them.
   *
   * @param p the parameters to score (read only)
   * @return nll and perplexity (causal LM); zero_shot_accuracy, f1 and mcc (contrastive); accuracy,
   *     f1 and mcc (classification)
   */
  public Map<String, Double> metrics(LoraParams p) {
    if (m.task().contains("causal-lm")) {
      double[] ppl = perplexity(p);
      return Map.of("nll", ppl[0], "perplexity", ppl[1]);
    }
    if (m.task().equals(CONTRASTIVE)) {
      ClassificationMetrics c = zeroShot(p);
      return Map.of("zero_shot_accuracy", c.accuracy(), "f1", c.f1(), "mcc", c.mcc());
    }
    if (m.task().equals(EMBEDDING)) {
      return retrieval(p);
    }
    ClassificationMetrics c = classify(p);
    return Map.of("accuracy", c.accuracy(), "f1", c.f1(), "mcc", c.mcc());
  }

  /**
   * Zero-shot classification by a contrastive image-text model: each image goes to the class whose
   * caption embedding is most cosine-similar to the image embedding, over every class the data set
   * names ({@link CaptionedImages#CLASS_PROMPTS}), present in these examples or not. The text and
   * image embeddings come from separate infer runs (the towers do not interact), so image batches
   * need not match the number of classes.
   *
   * @param p the parameters to score (read only)
   * @return accuracy, F1, MCC and the confusion matrix over class indices
   */
  public ClassificationMetrics zeroShot(LoraParams p) {
    Object first = data.get(0).values().get(CaptionedImages.CLASS_PROMPTS);
    if (!(first instanceof CaptionedImages.ClassPrompts prompts)) {
      throw new IllegalArgumentException(
          m.id() + ": zero-shot evaluation needs examples with classes (captioned IDX images)");
    }
    int[] labels = new int[data.size()];
    for (int i = 0; i < data.size(); i++) {
      labels[i] = (int) ((long[]) data.get(i).values().get(CaptionedImages.CLASS_INDEX))[0];
    }
    int classes = prompts.inputIds().size();
    List<JsonlDataset.Example> promptList = new ArrayList<>();
    Object anyImage = data.get(0).values().get("pixel_values"); // the text tower ignores it
    for (int c = 0; c < classes; c++) {
      promptList.add(
          new JsonlDataset.Example(
              Map.of(
                  "input_ids", prompts.inputIds().get(c),
                  "attention_mask", prompts.attentionMasks().get(c),
                  "pixel_values", anyImage)));
    }
    Tensor text = run(Batcher.inOrder(promptList, m, classes).next(), p, TEXT_EMBEDS);
    int dim = (int) text.shape()[1];
    float[] t = text.floats();
    for (int c = 0; c < classes; c++) {
      double norm = 0;
      for (int k = 0; k < dim; k++) {
        norm += (double) t[c * dim + k] * t[c * dim + k];
      }
      for (int k = 0; k < dim; k++) {
        t[c * dim + k] /= (float) Math.sqrt(norm);
      }
    }
    int[] predicted = new int[data.size()];
    Batcher batches = Batcher.inOrder(data, m, batchSize);
    int at = 0;
    for (int b = 0; b < batches.batchesPerEpoch(); b++) {
      float[] img = run(batches.next(), p, IMAGE_EMBEDS).floats();
      for (int i = 0; i < img.length / dim; i++, at++) {
        double best = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
          double dot = 0;
          for (int k = 0; k < dim; k++) {
            dot += (double) img[i * dim + k] * t[c * dim + k];
          }
          if (dot > best) {
            best = dot;
            predicted[at] = c;
          }
        }
      }
    }
    return ClassificationMetrics.of(labels, predicted, classes);
  }

  /**
   * Retrieval among the evaluation pairs, as sentence-transformers' InformationRetrievalEvaluator
   * scores it: each first text's embedding queries every second text's by cosine similarity; its
   * own pair should rank first.
   *
   * @param p the parameters to score (read only)
   * @return recall_at_1 (the share whose own pair ranks first) and mrr (mean reciprocal rank)
   */
  public Map<String, Double> retrieval(LoraParams p) {
    String pos = TensorNames.POSITIVE;
    List<JsonlDataset.Example> second = new ArrayList<>();
    for (JsonlDataset.Example e : data) {
      Map<String, Object> v = new LinkedHashMap<>();
      e.values()
          .forEach(
              (k, x) -> {
                if (k.startsWith(pos)) {
                  v.put(k.substring(pos.length()), x);
                }
              });
      if (v.isEmpty()) {
        throw new IllegalArgumentException(
            m.id() + ": retrieval evaluation needs text pairs (--pair-field)");
      }
      second.add(new JsonlDataset.Example(v));
    }
    float[][] q = embed(data, p);
    float[][] d = embed(second, p);
    int n = q.length;
    double hits = 0;
    double rr = 0;
    for (int i = 0; i < n; i++) {
      double own = dot(q[i], d[i]);
      int rank = 1;
      for (int j = 0; j < n; j++) {
        if (j != i && dot(q[i], d[j]) > own) {
          rank++;
        }
      }
      hits += rank == 1 ? 1 : 0;
      rr += 1.0 / rank;
    }
    return Map.of("recall_at_1", hits / n, "mrr", rr / n);
  }

  private float[][] embed(List<JsonlDataset.Example> examples, LoraParams p) {
    Batcher batches = Batcher.inOrder(examples, m, batchSize);
    float[][] out = new float[examples.size()][];
    int at = 0;
    for (int b = 0; b < batches.batchesPerEpoch(); b++) {
      Tensor t = run(batches.next(), p, TensorNames.SENTENCE_EMBEDDING);
      int dim = (int) t.shape()[1];
      float[] v = t.floats();
      for (int i = 0; i < t.shape()[0]; i++, at++) {
        out[at] = java.util.Arrays.copyOfRange(v, i * dim, (i + 1) * dim);
      }
    }
    return out;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int k = 0; k < a.length; k++) {
      s += (double) a[k] * b[k];
    }
    return s;
  }

  private Tensor logits(Map<String, Tensor> batch, LoraParams p) {
    return run(batch, p, TensorNames.LOGITS);
  }

  /**
   * One infer run on a batch.
   *
   * @param batch the batch (its infer inputs are fed)
   * @param p the adapter's parameters
   * @param output the output to fetch
   * @return that output
   */
  public Tensor run(Map<String, Tensor> batch, LoraParams p, String output) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    m.inferInputs().forEach(spec -> feeds.put(spec.name(), batch.get(spec.name())));
    feeds.putAll(p.feeds());
    return session.run(feeds, List.of(output)).get(output);
  }

  /** Closes the infer session; idempotent. */
  @Override
  public void close() {
    session.close();
  }
}
