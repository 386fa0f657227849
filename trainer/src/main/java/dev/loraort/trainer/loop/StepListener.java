package dev.loraort.trainer.loop;

/** Receives each completed step (trace file, progress display). */
@FunctionalInterface
public interface StepListener {
  /**
   * @param r the step's report
   * @throws java.io.UncheckedIOException if a listener's output fails
   */
  void onStep(StepRecord r);

  /**
   * An evaluation after a step (only with {@code --eval-data}).
   *
   * @param step 1-based step it follows
   * @param metrics metric name -> value
   */
  default void onEvaluation(long step, java.util.Map<String, Double> metrics) {}
}
