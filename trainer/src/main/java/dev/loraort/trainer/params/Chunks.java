package dev.loraort.trainer.params;

import java.util.stream.IntStream;

/**
 * Elementwise work over a large array split into fixed chunks run in parallel. Chunk boundaries
 * depend only on the length, so results are the same for any number of threads.
 */
public final class Chunks {
  /**
   * Elements per task: large enough to amortise scheduling, small enough to spread one head matrix
   * over the cores.
   */
  static final int SIZE = 1 << 15;

  private Chunks() {}

  /** The elements {@code [from, to)} of one chunk. */
  @FunctionalInterface
  public interface Range {
    /**
     * @param from first index
     * @param to one past the last index
     */
    void apply(int from, int to);
  }

  /** A partial result over {@code [from, to)}. */
  @FunctionalInterface
  public interface RangeSum {
    /**
     * @param from first index
     * @param to one past the last index
     * @return the chunk's partial sum
     */
    double apply(int from, int to);
  }

  /**
   * Runs {@code body} over every chunk of {@code [0, length)}, in parallel when there are several.
   *
   * @param length the array length
   * @param body the work for one chunk
   */
  public static void forEach(int length, Range body) {
    int n = count(length);
    if (n <= 1) {
      body.apply(0, length);
      return;
    }
    IntStream.range(0, n).parallel().forEach(c -> body.apply(c * SIZE, end(c, length)));
  }

  /**
   * Sums {@code part} over every chunk of {@code [0, length)}; the partial sums are added in chunk
   * order, so the result does not depend on the threads.
   *
   * @param length the array length
   * @param part the partial sum of one chunk
   * @return the total
   */
  public static double sum(int length, RangeSum part) {
    int n = count(length);
    if (n <= 1) {
      return part.apply(0, length);
    }
    double[] parts = new double[n];
    IntStream.range(0, n).parallel().forEach(c -> parts[c] = part.apply(c * SIZE, end(c, length)));
    double s = 0;
    for (double p : parts) {
      s += p;
    }
    return s;
  }

  private static int count(int length) {
    return (length + SIZE - 1) / SIZE;
  }

  private static int end(int chunk, int length) {
    return Math.min(length, (chunk + 1) * SIZE);
  }
}
