package dev.loraort.trainer.loop;

import dev.loraort.trainer.plot.Chart;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The run's curves: training loss every step and evaluation metrics as they come, to {@code
 * metrics.csv} (one row per evaluation), a TensorBoard event file, and on close {@code curves.svg}
 * (training loss, and validation accuracy when there is one). Owns its files.
 */
public final class MetricsLog implements StepListener, AutoCloseable {
  /** The CSV of evaluations. */
  public static final String CSV = "metrics.csv";

  /** The plot. */
  public static final String CHART = "curves.svg";

  private final Path dir;
  private final TensorBoardEvents events;
  private final List<double[]> loss = new ArrayList<>();
  private final List<double[]> accuracy = new ArrayList<>();
  private final List<String> columns = new ArrayList<>();
  private double lastLoss = Double.NaN;

  /**
   * @param dir the run directory
   * @throws IOException if the event file cannot be created
   */
  public MetricsLog(Path dir) throws IOException {
    this.dir = dir;
    this.events = new TensorBoardEvents(dir);
  }

  @Override
  public void onStep(StepRecord r) {
    loss.add(new double[] {r.step(), r.loss()});
    lastLoss = r.loss();
    events.scalar(r.step(), "train/loss", r.loss());
    events.scalar(r.step(), "train/lr", r.lr());
    events.scalar(r.step(), "train/grad_norm", r.gradNorm());
  }

  @Override
  public void onEvaluation(long step, Map<String, Double> metrics) {
    try {
      if (columns.isEmpty()) {
        columns.addAll(new TreeSet<>(metrics.keySet()));
        Files.writeString(
            dir.resolve(CSV),
            "step,train_loss," + String.join(",", columns) + "\n",
            StandardCharsets.UTF_8);
      }
      StringBuilder row = new StringBuilder().append(step).append(',').append(fmt(lastLoss));
      for (String c : columns) {
        row.append(',').append(fmt(metrics.getOrDefault(c, Double.NaN)));
      }
      Files.writeString(
          dir.resolve(CSV),
          row.append('\n').toString(),
          StandardCharsets.UTF_8,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(dir.resolve(CSV) + ": writing failed", e);
    }
    metrics.forEach((k, v) -> events.scalar(step, "eval/" + k, v));
    if (metrics.containsKey("accuracy")) {
      accuracy.add(new double[] {step, metrics.get("accuracy")});
    }
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.6g", v);
  }

  /** Writes the plot and closes the event file; idempotent for the event file. */
  @Override
  public void close() {
    try {
      List<double[]> finiteLoss = finite(loss);
      if (!finiteLoss.isEmpty()) {
        plot(finiteLoss, finite(accuracy)).write(dir.resolve(CHART));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e); // AtomicFiles names the file
    } finally {
      events.close();
    }
  }

  /** The points the chart can place; metrics.csv and the event file keep the rest. */
  private static List<double[]> finite(List<double[]> pts) {
    return pts.stream().filter(p -> Double.isFinite(p[1])).toList();
  }

  /** Training loss (left axis) and validation accuracy (right axis, 0 to 1) against the step. */
  private static Chart plot(List<double[]> loss, List<double[]> accuracy) {
    double maxStep = loss.get(loss.size() - 1)[0];
    double lo = loss.stream().mapToDouble(x -> x[1]).min().orElseThrow();
    double hi = loss.stream().mapToDouble(x -> x[1]).max().orElseThrow();
    if (hi == lo) {
      hi = lo + 1;
    }
    String blue = Chart.PALETTE.get(0);
    String red = Chart.PALETTE.get(1);
    Chart.Axis lossAxis = new Chart.Axis("train loss", lo, hi, "%.3f", blue);
    Chart.Axis accAxis =
        accuracy.isEmpty() ? null : new Chart.Axis("validation accuracy", 0, 1, "%.2f", red);
    Chart c = new Chart(900, 420, 0, Math.max(1, maxStep), lossAxis, accAxis);
    c.grid(Chart.evenTicks(0, maxStep), "step");
    c.line(loss, lossAxis, blue, 1.5f);
    if (accAxis != null) {
      c.line(accuracy, accAxis, red, 2.5f);
    }
    return c;
  }
}
