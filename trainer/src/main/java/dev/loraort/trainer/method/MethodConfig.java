package dev.loraort.trainer.method;

/**
 * A method's settings: immutable records validated on construction, one per method; their defaults
 * live in the method's registration ({@link MethodSpec}), and only there.
 */
public interface MethodConfig {
  /**
   * @return the --method value
   */
  String id();

  /** Whether a perturbation is normalised per adapted layer or over all layers together. */
  enum NormScope {
    /** ||.|| of each layer (EFlat code, FMLoRA). */
    PER_LAYER,
    /** sqrt of the sum over layers (SAM). */
    GLOBAL
  }

  /** How rho changes over the run. */
  enum RhoSchedule {
    /** rho throughout. */
    CONSTANT,
    /** cosine decay from rho to 0.4 rho (docs/methods.md section 4, "rho schedule"). */
    COSINE;

    /**
     * @param rho0 the initial radius
     * @param step 0-based step
     * @param total steps in the run
     * @return rho at this step
     */
    public double at(double rho0, long step, long total) {
      if (this == CONSTANT) {
        return rho0;
      }
      double rhoMin = 0.4 * rho0;
      return rhoMin + (rho0 - rhoMin) * 0.5 * (1 + Math.cos(Math.PI * step / Math.max(1, total)));
    }
  }

  /**
   * Requires a condition, naming the method and the value.
   *
   * @param ok the condition
   * @param message what is wrong
   */
  static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
