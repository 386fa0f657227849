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

/** Classification metrics of an adapter on labelled examples, through the model's infer graph. */
public final class Evaluator {
  private Evaluator() {}

  /**
   * @param m a sequence-classification model (logits [batch, classes])
   * @param p the adapter's parameters
   * @param data labelled examples
   * @param batchSize examples per run
   * @param device where to run
   * @param threads CPU threads
   * @return accuracy, F1, MCC and the confusion matrix
   */
  public static ClassificationMetrics classify(
      Manifest m,
      LoraParams p,
      List<JsonlDataset.Example> data,
      int batchSize,
      ExecutionDevice device,
      int threads) {
    Batcher batches = Batcher.inOrder(data, m, batchSize);
    int[] labels = new int[data.size()];
    int[] predicted = new int[data.size()];
    int classes = 0;
    int at = 0;
    try (GraphSession s = ModelGraphs.openInfer(m, device, threads)) {
      for (int b = 0; b < batches.batchesPerEpoch(); b++) {
        Map<String, Tensor> batch = batches.next();
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        m.inferInputs().forEach(spec -> feeds.put(spec.name(), batch.get(spec.name())));
        feeds.putAll(p.feeds());
        Tensor logits = s.run(feeds, List.of(TensorNames.LOGITS)).get(TensorNames.LOGITS);
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
    }
    return ClassificationMetrics.of(labels, predicted, classes);
  }
}
