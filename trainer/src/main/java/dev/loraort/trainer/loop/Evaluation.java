package dev.loraort.trainer.loop;

import dev.loraort.trainer.params.LoraParams;
import java.util.Map;
import java.util.function.Function;

/**
 * Periodic evaluation of the parameters during training: after every {@code every} steps and after
 * the last, {@code evaluate} scores the current parameters; listeners receive the metrics.
 *
 * @param every steps between evaluations
 * @param evaluate parameters -> metric name -> value (must not change the parameters)
 */
public record Evaluation(long every, Function<LoraParams, Map<String, Double>> evaluate) {
  /** Validates the interval. */
  public Evaluation {
    if (every < 1) {
      throw new IllegalArgumentException("evaluation interval must be >= 1, got " + every);
    }
  }
}
