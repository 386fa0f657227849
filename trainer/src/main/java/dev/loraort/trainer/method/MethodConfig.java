package dev.loraort.trainer.method;

import java.util.Locale;

/**
 * A method's settings: immutable records validated on construction, one per method, each with its
 * documented defaults in one place ({@code defaults()}).
 */
public sealed interface MethodConfig
    permits Lora.Cfg,
        HeadOnly.Cfg,
        LoraSam.Cfg,
        FmLora.Cfg,
        EFlatLora.Cfg,
        FlatLoraRwp.Cfg,
        BiLora.Cfg,
        Bar.Cfg {
  /**
   * @return the --method value
   */
  String id();

  /** Whether a perturbation is normalised per adapted layer or over all layers together. */
  enum NormScope {
    /** ||.|| of each layer (EFlat code, FMLoRA). */
    PER_LAYER,
    /** sqrt of the sum over layers (SAM). */
    GLOBAL;

    /**
     * @param s per-layer or global
     * @return the scope
     */
    public static NormScope parse(String s) {
      switch (s.toLowerCase(Locale.ROOT)) {
        case "per-layer":
          return PER_LAYER;
        case "global":
          return GLOBAL;
        default:
          throw new IllegalArgumentException(
              "--norm-scope " + s + ": expected per-layer or global");
      }
    }
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

    /**
     * @param s constant or cosine
     * @return the schedule
     */
    public static RhoSchedule parse(String s) {
      try {
        return valueOf(s.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--rho-schedule " + s + ": expected constant or cosine", e);
      }
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
