package dev.loraort.trainer.graph;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.util.Map;

/**
 * What a train graph's loss is the mean over (graph-contract.md section 2), so what a shard of a
 * batch weighs when shards' losses and gradients are combined into the whole batch's: a mean over
 * shards weighted by these counts is the mean over the batch. A shard with count 0 has no terms and
 * is left out: graph-builder's losses divide by max(count, 1) and give 0 there, PyTorch's exports
 * divide by the count and give NaN.
 */
enum LossWeight {
  /** seq-cls: cross-entropy over the examples whose label is not -100. */
  LABELLED_EXAMPLES,
  /** causal-lm: next-token cross-entropy over labels[:, 1:] that are not -100. */
  PREDICTED_TOKENS;

  /** The batch input both losses read. */
  static final String LABELS = "labels";

  private static final long IGNORED = -100;

  /**
   * @param m the manifest
   * @return the weight of the model's loss
   * @throws GraphException for a loss that is not a mean of per-shard terms: in-batch contrastive
   *     losses (CLIP, embedding models) compare every example with the whole batch, and a task
   *     without a rule here is refused rather than averaged wrongly
   */
  static LossWeight of(Manifest m) {
    String why =
        switch (m.task()) {
          case "seq-cls", "causal-lm" -> null;
          case "contrastive", "embedding" ->
              "its in-batch contrastive loss compares every example"
                  + " with the whole batch, so it does not split into shards";
          default ->
              "data-parallel training knows how to weigh the shards of seq-cls and"
                  + " causal-lm losses only";
        };
    if (why != null) {
      throw new GraphException(
          m.dir().resolve(Manifest.FILE)
              + ": task "
              + m.task()
              + " cannot train on several devices: "
              + why
              + "; train it on one device (--device)");
    }
    return m.task().equals("seq-cls") ? LABELLED_EXAMPLES : PREDICTED_TOKENS;
  }

  /**
   * @param shard one shard's batch inputs
   * @return the number of terms its loss averages
   * @throws GraphException if the shard has no labels input
   */
  long count(Map<String, Tensor> shard) {
    Tensor labels = shard.get(LABELS);
    if (labels == null) {
      throw new GraphException("the batch has no " + LABELS + " input; inputs: " + shard.keySet());
    }
    long[] shape = labels.shape();
    int cols = shape.length < 2 ? 1 : Math.toIntExact(shape[1]);
    int first = this == PREDICTED_TOKENS ? 1 : 0; // position t predicts label t + 1
    long n = 0;
    for (int i = 0; i < labels.size(); i++) {
      if (i % cols >= first && label(labels, i) != IGNORED) {
        n++;
      }
    }
    return n;
  }

  private static long label(Tensor t, int i) {
    return t.dtype() == Tensor.DType.I64 ? t.longs()[i] : t.ints()[i];
  }
}
