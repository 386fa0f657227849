package dev.loraort.trainer.loop;

/**
 * Where one step's wall time went, in seconds. Everything but {@code graph} is host time.
 *
 * @param total the whole step
 * @param graph inside ONNX Runtime's run calls (device work, and the CUDA EP's transfers of feeds
 *     and outputs between host and device memory)
 * @param copies copying feeds from Java arrays into ONNX Runtime tensors and outputs back
 * @param method the method's own math (perturbations, projections, EMA)
 * @param optimizer the optimizer's update and adding it to the parameters
 * @param data waiting for the step's batches (built ahead on another thread: near zero unless
 *     building one takes longer than a step)
 */
public record StepTimes(
    double total, double graph, double copies, double method, double optimizer, double data) {
  /**
   * @return the host's part: everything outside the graph runs
   */
  public double host() {
    return total - graph;
  }

  /**
   * @return host time in none of the named phases: feeds, gradient accumulation and norms,
   *     listeners
   */
  public double other() {
    return host() - copies - method - optimizer - data;
  }
}
