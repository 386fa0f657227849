package dev.loraort.trainer.method;

import dev.loraort.trainer.params.LoraParams;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The state of a two-pass method that perturbs the weights for its second pass (LoRA-SAM, FMLoRA):
 * the perturbation computed from pass 0's gradients, applied in place before pass 1 and undone
 * after it from a saved copy, bit for bit.
 */
public final class SecondPassPerturbation {
  Map<String, float[]> perturbation = Map.of();
  final Map<String, float[]> saved = new LinkedHashMap<>();

  /** FMLoRA's workspaces for the perturbation's direction. */
  final Perturbations.Scratch scratch = new Perturbations.Scratch();

  double norm;

  /** Applies the perturbation before pass 1 (pass 0 runs at the weights themselves). */
  void beforePass(int pass, LoraParams p) {
    if (pass == 1) {
      Perturbations.apply(p, perturbation, saved);
    }
  }

  /** Restores the weights after pass 1. */
  void afterPass(int pass, LoraParams p) {
    if (pass == 1) {
      Perturbations.restore(p, saved);
    }
  }

  /**
   * @return this step's perturbation by tensor name (empty before the first step)
   */
  public Map<String, float[]> perturbation() {
    return perturbation;
  }
}
