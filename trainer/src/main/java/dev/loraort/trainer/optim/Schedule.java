package dev.loraort.trainer.optim;

/**
 * A learning rate by optimizer step (0-based), with linear warmup from 0 as in Hugging Face's
 * schedulers: during warmup lr(t) = peak * t / warmup.
 */
@FunctionalInterface
public interface Schedule {
  /**
   * @param step 0-based optimizer step
   * @return the learning rate
   */
  double at(long step);

  /** The schedule shapes after warmup. */
  enum Kind {
    /** peak throughout. */
    CONSTANT,
    /** linear decay to 0 at the last step. */
    LINEAR,
    /** half-cosine decay to 0 at the last step. */
    COSINE
  }

  /**
   * @param kind shape after warmup
   * @param peak the peak learning rate
   * @param warmupSteps steps of linear warmup (0 for none)
   * @param totalSteps optimizer steps in the run
   * @return the schedule
   */
  static Schedule of(Kind kind, double peak, long warmupSteps, long totalSteps) {
    if (!(peak >= 0) || warmupSteps < 0 || totalSteps < 1) {
      throw new IllegalArgumentException(
          "schedule: need lr >= 0, warmup >= 0, steps >= 1; got lr="
              + peak
              + " warmup="
              + warmupSteps
              + " steps="
              + totalSteps);
    }
    return step -> {
      if (step < warmupSteps) {
        return peak * step / warmupSteps;
      }
      double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      switch (kind) {
        case LINEAR:
          return peak * Math.max(0, 1 - progress);
        case COSINE:
          return peak * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
        default:
          return peak;
      }
    };
  }
}
