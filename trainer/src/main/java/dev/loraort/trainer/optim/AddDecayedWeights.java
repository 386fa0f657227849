package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;

/**
 * Decoupled weight decay (AdamW): u += wd * p, applied after Adam's rescaling and before the
 * learning rate, as in optax adamw.
 *
 * @param weightDecay wd
 */
public record AddDecayedWeights(double weightDecay) implements Stateless<AddDecayedWeights.State> {
  /** Validates wd. */
  public AddDecayedWeights {
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
    }
  }

  /** Stateless. */
  public record State() {}

  @Override
  public State init(ParamTree params) {
    return new State();
  }

  @Override
  public State update(ParamTree updates, State s, ParamTree params) {
    if (weightDecay != 0) {
      updates.addScaled(weightDecay, params);
    }
    return s;
  }
}
