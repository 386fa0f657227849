package dev.loraort.trainer.data;

import dev.loraort.artifacts.Tensor;
import java.util.Map;

/** Where the step loop draws batches from: shuffled JSONL data, or fixed batches (conformance). */
public interface BatchSource {
  /** @return the next batch: one tensor per batch input of the model */
  Map<String, Tensor> next();

  /** @return batches in one epoch */
  int batchesPerEpoch();
}
