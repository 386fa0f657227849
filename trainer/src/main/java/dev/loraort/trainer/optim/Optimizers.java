package dev.loraort.trainer.optim;

/** Named compositions of the transformations. */
public final class Optimizers {
  private Optimizers() {}

  /**
   * AdamW = clip (optional) + scale_by_adam + add_decayed_weights + scale_by_learning_rate.
   *
   * @param schedule learning rate by step
   * @param b1 Adam beta1
   * @param b2 Adam beta2
   * @param eps Adam epsilon
   * @param weightDecay decoupled weight decay
   * @param maxGradNorm global-norm clip, or 0 for none
   * @param maximize ascent instead of descent
   * @return the chained optimizer
   */
  public static Chain adamw(
      Schedule schedule,
      double b1,
      double b2,
      double eps,
      double weightDecay,
      double maxGradNorm,
      boolean maximize) {
    ScaleByAdam adam = new ScaleByAdam(b1, b2, eps);
    AddDecayedWeights wd = new AddDecayedWeights(weightDecay);
    ScaleByLearningRate lr = new ScaleByLearningRate(schedule, maximize);
    return maxGradNorm > 0
        ? Chain.of(new ClipByGlobalNorm(maxGradNorm), adam, wd, lr)
        : Chain.of(adam, wd, lr);
  }
}
