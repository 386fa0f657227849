package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;

/**
 * Scales all gradients by min(1, maxNorm / ||g||), the norm taken over every tensor together.
 *
 * @param maxNorm the largest global norm let through
 */
public record ClipByGlobalNorm(double maxNorm) implements Stateless<ClipByGlobalNorm.State> {
  /** Validates maxNorm. */
  public ClipByGlobalNorm {
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("max gradient norm must be > 0, got " + maxNorm);
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
    double norm = updates.globalNorm();
    if (norm > maxNorm) {
      updates.scale(maxNorm / norm);
    }
    return s;
  }
}
