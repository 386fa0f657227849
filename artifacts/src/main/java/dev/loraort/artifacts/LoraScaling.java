package dev.loraort.artifacts;

/**
 * Each adapted module's rank and scale s (the factor of B A): one r and s for all, or per module
 * under PEFT's rank_pattern / alpha_pattern ({@link LoraPatterns}).
 */
public interface LoraScaling {
  /**
   * @return the default r (PEFT's {@code r})
   */
  int rank();

  /**
   * @return the default s: what the graphs' single {@code lora_scale} input is fed
   */
  float scale();

  /**
   * @param module a module name
   * @return its rank, the rows of its A
   */
  default int rank(String module) {
    return rank();
  }

  /**
   * @param module a module name
   * @return its scale
   */
  default float scale(String module) {
    return scale();
  }

  /**
   * @param rank r of every module
   * @param scale s of every module
   * @return one rank and scale for all
   */
  static LoraScaling uniform(int rank, float scale) {
    return new LoraScaling() {
      @Override
      public int rank() {
        return rank;
      }

      @Override
      public float scale() {
        return scale;
      }
    };
  }
}
