package dev.loraort.trainer.loop;

import dev.loraort.trainer.params.LoraParams;
import java.util.Map;
import java.util.function.Function;

/**
 * Periodic evaluation of the parameters during training: after every {@code every} steps and after
 * the last, {@code evaluate} scores the current parameters; listeners receive the metrics, and the
 * judge decides whether training goes on (early stopping) and keeps what it wants (the best
 * adapter).
 *
 * @param every steps between evaluations
 * @param evaluate parameters -> metric name -> value (must not change the parameters)
 * @param judge sees each evaluation with the parameters it scored; false stops training there
 */
public record Evaluation(
    long every, Function<LoraParams, Map<String, Double>> evaluate, Judge judge) {
  /** What follows an evaluation. */
  @FunctionalInterface
  public interface Judge {
    /**
     * @param step the completed step
     * @param metrics the evaluation's metrics
     * @param params the parameters scored (read only)
     * @return true to go on training
     */
    boolean keepGoing(long step, Map<String, Double> metrics, LoraParams params);
  }

  /** Validates the interval. */
  public Evaluation {
    if (every < 1) {
      throw new IllegalArgumentException("evaluation interval must be >= 1, got " + every);
    }
  }
}
