package dev.loraort.artifacts;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trained adapter, format-independent: the LoRA tensors and trained heads under the graph
 * contract's names ({@code <module>.lora_A.weight} [r, in], {@code <module>.lora_B.weight} [out,
 * r], head tensors by name), the rank and alpha they were trained with, and string metadata
 * (method, base model id, graph sha256s). Modules that PEFT's rank_pattern / alpha_pattern match
 * have their own r and alpha, and so their own scale ({@link #scale(String)}).
 *
 * @param tensors tensors by contract name, in order
 * @param rank r, the default rank
 * @param alpha alpha, the default alpha
 * @param scale s, the factor of B A for modules at the defaults (alpha / r unless the trainer says
 *     otherwise)
 * @param rsLora use_rslora: a module's scale is alpha / sqrt(r)
 * @param patterns per-module ranks and alphas (PEFT's rank_pattern and alpha_pattern)
 * @param metadata provenance, written where the format has room for it
 */
public record AdapterWeights(
    Map<String, Tensor> tensors,
    int rank,
    double alpha,
    float scale,
    boolean rsLora,
    LoraPatterns patterns,
    Map<String, String> metadata)
    implements LoraScaling {
  /**
   * Copies the maps, keeping order; validates rank and scale, and that a scale with patterns is
   * PEFT's (the modules' own scales are computed the same way).
   */
  public AdapterWeights {
    if (rank < 1 || !Float.isFinite(scale)) {
      throw new IllegalArgumentException("adapter: rank " + rank + ", scale " + scale);
    }
    if (!patterns.isEmpty() && !close(scale, LoraPatterns.scale(rank, alpha, rsLora))) {
      throw new IllegalArgumentException(
          "adapter: rank_pattern / alpha_pattern need the scale PEFT computes, "
              + (rsLora ? "alpha / sqrt(r) = " : "alpha / r = ")
              + LoraPatterns.scale(rank, alpha, rsLora)
              + ", got "
              + scale);
    }
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
  }

  /**
   * An adapter with one rank and scale for every module; rsLoRA when the scale is alpha / sqrt(r)
   * and not alpha / r (at r = 1 they agree).
   *
   * @param tensors tensors by contract name, in order
   * @param rank r
   * @param alpha alpha
   * @param scale s
   * @param metadata provenance
   */
  public AdapterWeights(
      Map<String, Tensor> tensors,
      int rank,
      double alpha,
      float scale,
      Map<String, String> metadata) {
    this(
        tensors,
        rank,
        alpha,
        scale,
        !close(scale, LoraPatterns.scale(rank, alpha, false))
            && close(scale, LoraPatterns.scale(rank, alpha, true)),
        LoraPatterns.NONE,
        metadata);
  }

  @Override
  public int rank(String module) {
    return patterns.rank(module, rank);
  }

  /**
   * @param module a module name
   * @return its alpha
   */
  public double alpha(String module) {
    return patterns.alpha(module, alpha);
  }

  @Override
  public float scale(String module) {
    return patterns.scale(module, rank, alpha, rsLora, scale);
  }

  /**
   * @param scale a scale
   * @param expected what it should be
   * @return true within float rounding (relative 1e-6)
   */
  public static boolean close(double scale, double expected) {
    return Math.abs(expected - scale) <= 1e-6 * Math.abs(expected);
  }
}
