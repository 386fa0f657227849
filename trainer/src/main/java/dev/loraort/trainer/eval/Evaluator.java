package dev.loraort.trainer.eval;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Classification metrics of adapters on fixed labelled examples, through the model's infer graph.
 * Owns one infer session, reused across evaluations; close it.
 */
public final class Evaluator implements AutoCloseable {
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

  private Tensor logits(Map<String, Tensor> batch, LoraParams p) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    m.inferInputs().forEach(spec -> feeds.put(spec.name(), batch.get(spec.name())));
    feeds.putAll(p.feeds());
    return session.run(feeds, List.of(TensorNames.LOGITS)).get(TensorNames.LOGITS);
  }

  /** Closes the infer session; idempotent. */
  @Override
  public void close() {
    session.close();
  }
}
