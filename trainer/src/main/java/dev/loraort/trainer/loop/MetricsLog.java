package dev.loraort.trainer.loop;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
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
import javax.imageio.ImageIO;

/**
 * The run's curves: training loss every step and evaluation metrics as they come, to {@code
 * metrics.csv} (one row per evaluation), a TensorBoard event file, and on close {@code curves.png}
 * (training loss, and validation accuracy when there is one). Owns its files.
 */
public final class MetricsLog implements StepListener, AutoCloseable {
  /** The CSV of evaluations. */
  public static final String CSV = "metrics.csv";

  /** The plot. */
  public static final String PNG = "curves.png";

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
      BufferedImage png = loss.isEmpty() ? null : plotOrNull();
      if (png != null) {
        ImageIO.write(png, "png", dir.resolve(PNG).toFile());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(dir.resolve(PNG) + ": writing failed", e);
    } finally {
      events.close();
    }
  }

  /**
   * The plot, or null with a warning when it cannot be drawn: it is a by-product and must never
   * cost the run its adapter. Machines without fonts (a bare GPU host, a slim JRE) fail inside
   * Java's font system with errors, not exceptions.
   */
  private BufferedImage plotOrNull() {
    try {
      return plot();
    } catch (LinkageError | InternalError | RuntimeException e) {
      System.err.println(
          "warning: "
              + dir.resolve(PNG)
              + " not written, the plot could not be drawn here ("
              + e
              + "); "
              + CSV
              + " and the TensorBoard events hold the same curves");
      return null;
    }
  }

  private static final int TICKS = 4;

  private BufferedImage plot() {
    int w = 900;
    int h = 420;
    int l = 70;
    int r = 70;
    int t = 40;
    int b = 50;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    double maxStep = loss.get(loss.size() - 1)[0];
    double lo = loss.stream().mapToDouble(x -> x[1]).min().orElse(0);
    double hi = loss.stream().mapToDouble(x -> x[1]).max().orElse(1);
    if (hi == lo) {
      hi = lo + 1;
    }
    int pw = w - l - r;
    int ph = h - t - b;
    // a grid with four divisions each way, each line labelled: steps below, loss left, accuracy
    // right
    for (int k = 0; k <= TICKS; k++) {
      int x = l + pw * k / TICKS;
      int y = t + ph - ph * k / TICKS;
      g.setColor(new Color(232, 232, 232));
      g.drawLine(x, t, x, t + ph);
      g.drawLine(l, y, l + pw, y);
      g.setColor(Color.DARK_GRAY);
      String step = String.valueOf(Math.round(maxStep * k / TICKS));
      g.drawString(step, x - 4 * step.length(), h - b + 18);
      g.setColor(new Color(31, 119, 180));
      g.drawString(String.format(Locale.ROOT, "%.3f", lo + (hi - lo) * k / TICKS), 14, y + 4);
      if (!accuracy.isEmpty()) {
        g.setColor(new Color(214, 39, 40));
        g.drawString(String.format(Locale.ROOT, "%.2f", (double) k / TICKS), w - r + 8, y + 4);
      }
    }
    g.setColor(Color.GRAY);
    g.drawRect(l, t, pw, ph);
    g.setColor(Color.DARK_GRAY);
    g.drawString("step", w / 2 - 15, h - 12);
    g.setColor(new Color(31, 119, 180));
    g.drawString("train loss", 8, t - 10);
    g.setStroke(new BasicStroke(1.5f));
    draw(g, loss, maxStep, lo, hi, l, t, w - l - r, h - t - b);
    if (!accuracy.isEmpty()) {
      g.setColor(new Color(214, 39, 40));
      g.drawString("validation accuracy", w - r - 60, t - 10);
      g.setStroke(new BasicStroke(2.5f));
      draw(g, accuracy, maxStep, 0, 1, l, t, w - l - r, h - t - b);
    }
    g.dispose();
    return img;
  }

  private static void draw(
      Graphics2D g,
      List<double[]> pts,
      double maxStep,
      double lo,
      double hi,
      int x0,
      int y0,
      int pw,
      int ph) {
    int px = -1;
    int py = -1;
    for (double[] p : pts) {
      int x = x0 + (int) Math.round(pw * p[0] / Math.max(1, maxStep));
      int y = y0 + ph - (int) Math.round(ph * (p[1] - lo) / (hi - lo));
      if (px >= 0) {
        g.drawLine(px, py, x, y);
      }
      g.fillOval(x - 2, y - 2, 4, 4);
      px = x;
      py = y;
    }
  }
}
