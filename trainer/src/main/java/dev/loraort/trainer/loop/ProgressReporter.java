package dev.loraort.trainer.loop;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Shows progress: a progress bar on a terminal, or a plain line every ~5% of the run in logs. Owns
 * the bar; close it.
 */
public final class ProgressReporter implements StepListener, AutoCloseable {
  private final ProgressBar bar;
  private final PrintStream log;
  private long every;

  /**
   * @param bar true for a terminal progress bar
   * @param log where plain lines go
   */
  public ProgressReporter(boolean bar, PrintStream log) {
    this.log = log;
    this.bar =
        bar
            ? new ProgressBarBuilder()
                .setTaskName("train")
                .setStyle(ProgressBarStyle.ASCII)
                .setInitialMax(1)
                .continuousUpdate()
                .build()
            : null;
  }

  @Override
  public void onStep(StepRecord r) {
    if (bar != null) {
      bar.maxHint(r.total());
      bar.stepTo(r.step());
      bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f", r.loss()));
      return;
    }
    if (every == 0) {
      every = Math.max(1, r.total() / 20);
    }
    if (r.step() == 1 || r.step() % every == 0 || r.step() == r.total()) {
      log.printf(
          Locale.ROOT,
          "step %d/%d loss %.5f lr %.3g grad_norm %.4g %.1f ms%n",
          r.step(),
          r.total(),
          r.loss(),
          r.lr(),
          r.gradNorm(),
          r.seconds() * 1e3);
    }
  }

  @Override
  public void onEvaluation(long step, java.util.Map<String, Double> metrics) {
    StringBuilder line = new StringBuilder("eval at step " + step + ":");
    new java.util.TreeMap<>(metrics)
        .forEach((k, v) -> line.append(String.format(Locale.ROOT, " %s %.4f", k, v)));
    if (bar != null) {
      bar.setExtraMessage(line.toString());
    }
    log.println(line); // a line of its own either way: the bar's message is overwritten
  }

  /** Closes the bar; idempotent. */
  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
