package dev.loraort.trainer.conformance;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.data.BatchSource;
import java.util.List;
import java.util.Map;

/** The batches of a golden trace, in order (then again from the start). */
public final class FixedBatches implements BatchSource {
  private final List<Map<String, Tensor>> batches;
  private int next;

  /**
   * @param batches one batch per step
   */
  public FixedBatches(List<Map<String, Tensor>> batches) {
    if (batches.isEmpty()) {
      throw new IllegalArgumentException("no batches");
    }
    this.batches = List.copyOf(batches);
  }

  @Override
  public Map<String, Tensor> next() {
    return batches.get(next++ % batches.size());
  }

  @Override
  public long[] position() {
    return new long[] {0, next};
  }

  @Override
  public void seek(long[] position) {
    next = (int) position[1];
  }

  @Override
  public int batchesPerEpoch() {
    return batches.size();
  }
}
