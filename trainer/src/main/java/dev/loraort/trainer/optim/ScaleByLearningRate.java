package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;

/**
 * u *= -lr(step): turns updates into a descent step (or an ascent step with {@code maximize}).
 *
 * @param schedule the learning rate by step (0-based)
 * @param maximize true for gradient ascent (Bi-LoRA's auxiliary branch)
 */
public record ScaleByLearningRate(Schedule schedule, boolean maximize)
    implements GradientTransformation<ScaleByLearningRate.State> {
  /**
   * @param count steps taken
   */
  public record State(long count) {}

  @Override
  public State init(ParamTree params) {
    return new State(0);
  }

  @Override
  public State update(ParamTree updates, State s, ParamTree params) {
    double lr = schedule.at(s.count());
    updates.scale(maximize ? lr : -lr);
    return new State(s.count() + 1);
  }

  /** The step count, as {@code count} (int64 []). */
  @Override
  public java.util.Map<String, dev.loraort.artifacts.Tensor> save(State state) {
    return java.util.Map.of("count", Counts.tensor(state.count()));
  }

  @Override
  public State load(State fresh, java.util.Map<String, dev.loraort.artifacts.Tensor> tensors) {
    return new State(Counts.read(tensors, "count"));
  }
}
