package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.Map;

/**
 * A training method (methods.md): how many passes a step takes, what each pass feeds, and what is
 * done to the gradients. The step loop ({@code StepLoop}) is the only caller; methods never touch
 * sessions or files.
 *
 * <p>Per step the loop calls, for each pass: {@link #beforePass}, one graph run over the step's
 * micro-batches, {@link #afterGrad}; then the optimizer on the last pass's gradients, then
 * {@link #afterUpdate}.
 *
 * @param <S> the method's mutable state (EMA, auxiliary branch); made by {@link #init}
 */
public interface SharpnessMethod<S> {
  /** @return the {@code --method} value, e.g. {@code eflat-lora} */
  String id();

  /**
   * @param p the initial parameters
   * @return the initial state
   */
  S init(LoraParams p);

  /** @return passes per step: 1 or 2 */
  int passes();

  /** @return true if passes run train_rwp.onnx instead of train.onnx */
  default boolean usesRwpGraph() {
    return false;
  }

  /**
   * Before a pass: may perturb {@code p} in place (saving what it needs to restore exactly) and may
   * return extra feeds such as rwp_sigma.
   *
   * @param pass 0-based pass
   * @param p the parameters, fed to the graph after this call
   * @param s the state
   * @param t the step
   * @return extra feeds (empty if none)
   */
  Map<String, Tensor> beforePass(int pass, LoraParams p, S s, Step t);

  /**
   * After a pass: must restore {@code p} if {@link #beforePass} perturbed it; may transform the
   * gradients (BAR rescales here).
   *
   * @param pass 0-based pass
   * @param g the pass's gradients, averaged over micro-batches
   * @param p the parameters
   * @param s the state
   * @param t the step
   * @return the gradients to use (after the last pass: those the optimizer steps with)
   */
  ParamTree afterGrad(int pass, ParamTree g, LoraParams p, S s, Step t);

  /**
   * After the optimizer step (Bi-LoRA's global clip).
   *
   * @param p the updated parameters
   * @param s the state
   * @param t the step
   */
  default void afterUpdate(LoraParams p, S s, Step t) {}
}
