package dev.loraort.trainer.loop;

/**
 * What one optimizer step reports.
 *
 * @param step 1-based count of completed steps
 * @param total steps in the run
 * @param loss the first pass's loss, averaged over the step's micro-batches
 * @param lr the learning rate used
 * @param gradNorm global norm of the gradients the optimizer received, before clipping
 * @param times where the step's wall time went
 * @param perturbationNorm norm of the perturbation the method applied (NaN if none)
 */
public record StepRecord(
    long step,
    long total,
    double loss,
    double lr,
    double gradNorm,
    StepTimes times,
    double perturbationNorm) {
  /**
   * @return wall time of the step
   */
  public double seconds() {
    return times.total();
  }
}
