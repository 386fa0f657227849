package dev.loraort.trainer.loop;

/** Receives each completed step (trace file, progress display). */
@FunctionalInterface
public interface StepListener {
  /**
   * @param r the step's report
   * @throws java.io.UncheckedIOException if a listener's output fails
   */
  void onStep(StepRecord r);
}
