package dev.loraort.trainer.data;

/**
 * A float input of one example that is expanded only when it is batched, so a data set of images
 * stays in memory as its source bytes rather than as model-sized floats. Implementations compare by
 * content (deduplication relies on it).
 */
public interface FloatRow {
  /**
   * @return the number of floats
   */
  int length();

  /**
   * Writes the floats.
   *
   * @param dst the batch array
   * @param offset where this example's floats start
   */
  void copyTo(float[] dst, int offset);
}
