package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.Map;

/**
 * A training method (docs/methods.md): how many passes a step takes, what each pass feeds, what is
 * done to the gradients. The step loop ({@code StepLoop}) is the only caller; methods never touch
 * sessions or files.
 *
 * <p>Per step the loop calls, for each pass: {@link #beforePass}, one graph run over the step's
 * micro-batches, {@link #afterGrad}; then the optimizer on the last pass's gradients, then {@link
 * #afterUpdate}.
 *
 * @param <S> the method's mutable state (EMA, auxiliary branch); made by {@link #init}
 */
public interface SharpnessMethod<S> {
  /**
   * @return the {@code --method} value, e.g. {@code eflat-lora}
   */
  default String id() {
    return config().id();
  }

  /**
   * What a method may need at the start besides the parameters.
   *
   * @param lr the learning-rate schedule of the run
   * @param totalSteps optimizer steps in the run
   * @param rng the method's own random stream, split from the run seed
   * @param beta1 the run's Adam beta1 (for a method's own optimizer)
   * @param beta2 the run's Adam beta2
   * @param eps the run's Adam epsilon
   */
  record Setup(
      dev.loraort.trainer.optim.Schedule lr,
      long totalSteps,
      java.util.SplittableRandom rng,
      double beta1,
      double beta2,
      double eps) {}

  /**
   * @param p the initial parameters
   * @param setup schedule, run length and random stream
   * @return the initial state
   */
  S init(LoraParams p, Setup setup);

  /**
   * @return the config this method was made from
   */
  MethodConfig config();

  /**
   * Replaces state tensors with given values (a golden trace's initial auxiliary branch).
   *
   * @param s the state from {@link #init}
   * @param tensors values by the names {@link #stateTensors} uses
   * @throws IllegalArgumentException if a tensor is missing or has another shape
   */
  default void loadState(S s, Map<String, Tensor> tensors) {}

  /**
   * @param s the state
   * @return its tensors by name (empty for stateless methods)
   */
  default Map<String, Tensor> stateTensors(S s) {
    return Map.of();
  }

  /**
   * The norm of the perturbation this step applied to the LoRA weights (for traces), if any.
   *
   * @param s the state after the step
   * @return the global Frobenius norm, or NaN for methods without a deterministic perturbation
   */
  default double perturbationNorm(S s) {
    return Double.NaN;
  }

  /**
   * @return passes per step: 1 or 2
   */
  int passes();

  /**
   * @return true if passes run train_rwp.onnx instead of train.onnx
   */
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
