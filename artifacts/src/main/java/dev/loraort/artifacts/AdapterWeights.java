package dev.loraort.artifacts;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trained adapter, format-independent: the LoRA tensors and trained heads under the graph
 * contract's names ({@code <module>.lora_A.weight} [r, in], {@code <module>.lora_B.weight} [out,
 * r], head tensors by name), the rank and alpha they were trained with, and string metadata
 * (method, base model id, graph sha256s).
 *
 * @param tensors tensors by contract name, in order
 * @param rank r
 * @param alpha alpha
 * @param scale s, the factor of B A (alpha / r unless the trainer says otherwise)
 * @param metadata provenance, written where the format has room for it
 */
public record AdapterWeights(
    Map<String, Tensor> tensors,
    int rank,
    double alpha,
    float scale,
    Map<String, String> metadata) {
  /** Copies the maps, keeping order; validates rank and scale. */
  public AdapterWeights {
    if (rank < 1 || !Float.isFinite(scale)) {
      throw new IllegalArgumentException("adapter: rank " + rank + ", scale " + scale);
    }
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
  }
}
