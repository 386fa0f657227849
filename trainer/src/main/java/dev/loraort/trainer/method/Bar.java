package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.Locale;
import java.util.Map;

/**
 * LoRA-oBAR and LoRA-nBAR (docs/methods.md section 7): after backward, before the optimizer step,
 * rescale each layer's A and B by (1 -+ alpha_t eta_t) to pull them towards balance; the optimizer
 * then steps with the original gradients. alpha_t = mu_0 times a decreasing schedule; eta_t is the
 * step's learning rate. No state; invariant to s.
 */
public final class Bar implements SharpnessMethod<Bar.State> {
  /** The two algorithms. */
  public enum Variant {
    /** Alg. 3: shrink the larger of ||B|| and ||A||. */
    OBAR,
    /** Alg. 2: grow the factor whose gradient is larger. */
    NBAR
  }

  /**
   * @param variant oBAR or nBAR
   * @param mu0 alpha_0
   * @param schedule alpha_t / mu_0 over the run: constant, linear or cosine decay to 0
   */
  public record Cfg(Variant variant, double mu0, dev.loraort.trainer.optim.Schedule.Kind schedule)
      implements MethodConfig {
    /** Validates mu_0. */
    public Cfg {
      MethodConfig.require(
          mu0 >= 0 && Double.isFinite(mu0),
          "lora-" + variant.name().toLowerCase(Locale.ROOT) + ": bar-mu must be >= 0, got " + mu0);
    }

    /**
     * @param variant oBAR or nBAR
     * @return mu_0 0.5 (the middle of the papers' RoBERTa grids), cosine decay
     */
    public static Cfg defaults(Variant variant) {
      return new Cfg(variant, 0.5, dev.loraort.trainer.optim.Schedule.Kind.COSINE);
    }

    @Override
    public String id() {
      return "lora-" + variant.name().toLowerCase(Locale.ROOT);
    }
  }

  /** Stateless. */
  public record State() {}

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public Bar(Cfg cfg) {
    this.cfg = cfg;
  }

  @Override
  public Cfg config() {
    return cfg;
  }

  @Override
  public State init(LoraParams p, Setup setup) {
    return new State();
  }

  @Override
  public int passes() {
    return 1;
  }

  @Override
  public Map<String, Tensor> beforePass(int pass, LoraParams p, State s, Step t) {
    return Map.of();
  }

  @Override
  public ParamTree afterGrad(int pass, ParamTree g, LoraParams p, State s, Step t) {
    double alpha =
        cfg.mu0()
            * dev.loraort.trainer.optim.Schedule.of(cfg.schedule(), 1.0, 0, t.total())
                .at(t.index());
    double f = alpha * t.lr();
    for (String m : p.modules()) {
      String a = TensorNames.loraA(m);
      String b = TensorNames.loraB(m);
      boolean growB =
          cfg.variant() == Variant.NBAR
              ? Perturbations.norm(g, java.util.List.of(b))
                  >= Perturbations.norm(g, java.util.List.of(a))
              : Perturbations.norm(p.tree(), java.util.List.of(b))
                  < Perturbations.norm(p.tree(), java.util.List.of(a));
      scale(p.tree().get(b), growB ? 1 + f : 1 - f);
      scale(p.tree().get(a), growB ? 1 - f : 1 + f);
    }
    return g;
  }

  private static void scale(float[] x, double c) {
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (x[i] * c);
    }
  }
}
