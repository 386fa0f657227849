package dev.loraort.trainer.optim;

import dev.loraort.artifacts.Tensor;
import java.util.Map;

/**
 * A transformation that keeps no state between steps: nothing to checkpoint.
 *
 * @param <S> its (empty) state record
 */
interface Stateless<S> extends GradientTransformation<S> {
  @Override
  default Map<String, Tensor> save(S state) {
    return Map.of();
  }

  @Override
  default S load(S fresh, Map<String, Tensor> tensors) {
    return fresh;
  }
}
