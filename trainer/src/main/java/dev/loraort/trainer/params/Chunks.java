package dev.loraort.trainer.params;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Elementwise work over a set of arrays, split into tasks of at most {@link #SIZE} elements of one
 * array and run in parallel: across tensors (a model has ~100 small LoRA tensors) and within large
 * ones (a head matrix). Task boundaries depend only on the lengths, and sums add the tasks' partial
 * results in task order, so results are the same for any number of threads.
 */
public final class Chunks {
  /** Elements per task: large enough to amortise scheduling, small enough to spread a head. */
  static final int SIZE = 1 << 15;

  private Chunks() {}

  /** The elements {@code [from, to)} of array {@code index}. */
  @FunctionalInterface
  public interface Range {
    /**
     * @param index which array
     * @param from first element
     * @param to one past the last element
     */
    void apply(int index, int from, int to);
  }

  private record Task(int index, int from, int to) {}

  /**
   * Runs {@code body} over every task; in parallel unless the work is smaller than one task.
   *
   * @param lengths the arrays' lengths
   * @param body the work for one task
   */
  public static void forEach(int[] lengths, Range body) {
    List<Task> tasks = tasks(lengths);
    run(
        tasks,
        lengths,
        k -> {
          Task t = tasks.get(k);
          body.apply(t.index(), t.from(), t.to());
        });
  }

  /**
   * @param arrays some arrays
   * @return their lengths
   */
  public static int[] lengths(List<float[]> arrays) {
    return arrays.stream().mapToInt(a -> a.length).toArray();
  }

  /**
   * Sum of squares over all the arrays, accumulated in double.
   *
   * @param arrays the arrays
   * @return sum of x^2
   */
  public static double sumOfSquares(List<float[]> arrays) {
    double s = 0;
    for (double x : sumsOfSquares(arrays)) {
      s += x;
    }
    return s;
  }

  /**
   * Sum of squares of each array, accumulated in double; each array's task partials are added in
   * task order.
   *
   * @param arrays the arrays
   * @return one sum of x^2 per array
   */
  public static double[] sumsOfSquares(List<float[]> arrays) {
    int[] lengths = lengths(arrays);
    List<Task> tasks = tasks(lengths);
    double[] parts = new double[tasks.size()];
    run(
        tasks,
        lengths,
        k -> {
          Task t = tasks.get(k);
          parts[k] = sumOfSquares(arrays.get(t.index()), t.from(), t.to());
        });
    double[] out = new double[lengths.length];
    for (int k = 0; k < parts.length; k++) {
      out[tasks.get(k).index()] += parts[k];
    }
    return out;
  }

  /**
   * Sum of x^2 over {@code a[from, to)} in eight running sums (lanes fixed by the offset from
   * {@code from}, so the result depends only on the task): one sum is one long chain of dependent
   * double adds, eight let the core overlap them (about 2x faster here).
   */
  private static double sumOfSquares(float[] a, int from, int to) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    double s4 = 0;
    double s5 = 0;
    double s6 = 0;
    double s7 = 0;
    int i = from;
    for (; i + 7 < to; i += 8) {
      s0 += (double) a[i] * a[i];
      s1 += (double) a[i + 1] * a[i + 1];
      s2 += (double) a[i + 2] * a[i + 2];
      s3 += (double) a[i + 3] * a[i + 3];
      s4 += (double) a[i + 4] * a[i + 4];
      s5 += (double) a[i + 5] * a[i + 5];
      s6 += (double) a[i + 6] * a[i + 6];
      s7 += (double) a[i + 7] * a[i + 7];
    }
    for (; i < to; i++) {
      s0 += (double) a[i] * a[i];
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** Runs task {@code k} for every k; in parallel unless the work is smaller than one task. */
  private static void run(List<Task> tasks, int[] lengths, IntConsumer task) {
    long total = 0;
    for (int n : lengths) {
      total += n;
    }
    IntStream range = IntStream.range(0, tasks.size());
    (tasks.size() > 1 && total > SIZE ? range.parallel() : range).forEach(task);
  }

  private static List<Task> tasks(int[] lengths) {
    List<Task> out = new ArrayList<>();
    for (int i = 0; i < lengths.length; i++) {
      for (int from = 0; from < lengths[i]; from += SIZE) {
        out.add(new Task(i, from, Math.min(lengths[i], from + SIZE)));
      }
    }
    return out;
  }
}
