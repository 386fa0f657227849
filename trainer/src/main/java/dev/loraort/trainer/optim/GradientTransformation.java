package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;

/**
 * One step of an optimizer, as in optax: {@code init(params) -> state} and {@code update(updates,
 * state, params) -> state'}.
 *
 * <p>{@code update} transforms {@code updates} in place (gradients in, updates out) and may update
 * the arrays held by {@code state} in place; it returns the state for the next step. The parameters
 * are read only.
 *
 * @param <S> the state record
 */
public interface GradientTransformation<S> {
  /**
   * @param params the parameters to be optimized (names and shapes)
   * @return the initial state
   */
  S init(ParamTree params);

  /**
   * @param updates gradients on entry, transformed updates on return (in place)
   * @param state the state from init or the previous update
   * @param params current parameters
   * @return the next state
   */
  S update(ParamTree updates, S state, ParamTree params);
}
