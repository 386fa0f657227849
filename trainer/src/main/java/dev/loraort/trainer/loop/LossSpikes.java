package dev.loraort.trainer.loop;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Locale;

/**
 * The loss-spike guard: a step's loss against the median of the {@value #WINDOW} steps before it
 * (once {@value #MIN_HISTORY} are there, so the first steps' fall does not count), stopping the run
 * when it is more than the configured factor above. A median, not a mean, so that one earlier spike
 * does not raise the bar.
 */
final class LossSpikes {
  static final int WINDOW = 20;
  static final int MIN_HISTORY = 10;

  private final double factor;
  private final ArrayDeque<Double> recent = new ArrayDeque<>();

  /**
   * @param factor the allowed ratio to the recent median; 0 turns the guard off
   */
  LossSpikes(double factor) {
    if (factor < 0 || factor > 0 && factor <= 1) {
      throw new IllegalArgumentException(
          "--stop-on-loss-spike must be 0 (off) or a factor > 1, got " + factor);
    }
    this.factor = factor;
  }

  /**
   * @param loss this step's loss (finite)
   * @return why the run stops, or null to go on
   */
  String check(double loss) {
    if (factor == 0) {
      return null;
    }
    String why = null;
    if (recent.size() >= MIN_HISTORY) {
      double[] r = recent.stream().mapToDouble(Double::doubleValue).toArray();
      Arrays.sort(r);
      double median =
          r.length % 2 == 1 ? r[r.length / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
      if (median > 0 && loss > factor * median) {
        why =
            String.format(
                Locale.ROOT,
                "loss %.6g is %.1fx the median %.6g of the %d steps before (--stop-on-loss-spike"
                    + " %s)",
                loss,
                loss / median,
                median,
                r.length,
                factor);
      }
    }
    recent.addLast(loss);
    if (recent.size() > WINDOW) {
      recent.removeFirst();
    }
    return why;
  }
}
