package dev.loraort.trainer.loop;

import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Keeps the adapter of the best evaluation (--save-best METRIC) and stops a run whose metric has
 * not improved for {@code patience} evaluations (--early-stopping N). Loss-like metrics (loss, nll,
 * perplexity) improve downwards, the others (accuracy, f1, mcc, recall_at_1, mrr) upwards. Not part
 * of a checkpoint: a resumed run starts its best afresh.
 */
final class BestAdapter implements Evaluation.Judge {
  private static final Set<String> LOWER_IS_BETTER = Set.of("loss", "nll", "perplexity");

  /** Writes the adapter of the given parameters. */
  @FunctionalInterface
  interface Writer {
    void write(LoraParams p) throws IOException;
  }

  private final String metric;
  private final int patience;
  private final Writer writer;
  private final PrintStream log;
  private double best = Double.NaN;
  private long bestStep = -1;
  private int since;

  /**
   * @param metric the metric to keep the best of
   * @param patience evaluations without improvement before stopping; 0: never stop
   * @param writer writes the best adapter
   * @param log where the stop is announced
   */
  BestAdapter(String metric, int patience, Writer writer, PrintStream log) {
    if (patience < 0) {
      throw new IllegalArgumentException("--early-stopping must be >= 0, got " + patience);
    }
    this.metric = metric;
    this.patience = patience;
    this.writer = writer;
    this.log = log;
  }

  @Override
  public boolean keepGoing(long step, Map<String, Double> metrics, LoraParams params) {
    Double v = metrics.get(metric);
    if (v == null) {
      throw new IllegalArgumentException(
          "--save-best " + metric + ": the evaluation reports " + new TreeSet<>(metrics.keySet()));
    }
    boolean lower = LOWER_IS_BETTER.contains(metric);
    if (Double.isNaN(best) || (lower ? v < best : v > best)) {
      best = v;
      bestStep = step;
      since = 0;
      try {
        writer.write(params);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return true;
    }
    since++;
    if (patience > 0 && since >= patience) {
      log.printf(
          Locale.ROOT,
          "early stopping at step %d: %s has not improved on %.4f (step %d) in %d evaluations%n",
          step,
          metric,
          best,
          bestStep,
          since);
      return false;
    }
    return true;
  }

  /**
   * @return the metric
   */
  String metric() {
    return metric;
  }

  /**
   * @return the best value, NaN before the first evaluation
   */
  double best() {
    return best;
  }

  /**
   * @return the step of the best value, -1 before the first evaluation
   */
  long bestStep() {
    return bestStep;
  }
}
