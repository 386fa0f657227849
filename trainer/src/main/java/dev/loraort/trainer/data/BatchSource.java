package dev.loraort.trainer.data;

import dev.loraort.artifacts.Tensor;
import java.util.Map;

/** Where the step loop draws batches from: shuffled JSONL data, or fixed batches (conformance). */
public interface BatchSource {
  /**
   * @return the next batch: one tensor per batch input of the model
   */
  Map<String, Tensor> next();

  /**
   * @return batches in one epoch
   */
  int batchesPerEpoch();

  /**
   * @return where the next batch comes from: {epoch, position in the epoch} (for checkpoints)
   */
  long[] position();

  /**
   * Continues from a {@link #position()}.
   *
   * @param position what position() returned
   */
  void seek(long[] position);
}
