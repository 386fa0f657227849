package dev.loraort.trainer.optim;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.ParamTree;
import java.util.Map;

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

  /**
   * The state as named tensors, for a checkpoint. Every transformation says what it keeps (a
   * stateless one: nothing), so no state is left out of a checkpoint by omission.
   *
   * @param state a state of this transformation
   * @return its tensors (may share arrays with the state)
   */
  Map<String, Tensor> save(S state);

  /**
   * A state from {@link #save}'s tensors.
   *
   * @param fresh a state from {@link #init} for the same parameters (names and shapes)
   * @param tensors the saved tensors, under the names {@link #save} gives
   * @return the restored state
   * @throws IllegalArgumentException naming a tensor that is missing or has another size
   */
  S load(S fresh, Map<String, Tensor> tensors);
}
