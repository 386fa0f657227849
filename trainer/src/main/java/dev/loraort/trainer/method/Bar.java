package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.optim.Schedule;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.List;
import java.util.Map;

/**
 * LoRA-oBAR and LoRA-nBAR (docs/methods.md section 7): after backward, before the optimizer step,
 * rescale each layer's A and B by (1 -+ alpha_t eta_t) to pull them towards balance; the optimizer
 * then steps with the original gradients. alpha_t = mu_0 times a decreasing schedule; eta_t is the
 * step's learning rate. No state; invariant to s.
 */
public final class Bar implements SharpnessMethod<Bar.State> {
  /** mu_0, alpha_t's start. */
  public static final MethodSetting<Double> MU = MethodSetting.number("--bar-mu", "mu_0");

  /** How alpha_t decays from mu_0. */
  public static final MethodSetting<Schedule.Kind> SCHEDULE =
      MethodSetting.choice(
          "--bar-schedule",
          "decay of alpha_t to 0: constant, linear or cosine",
          Schedule.Kind.class);

  /** The two algorithms. */
  public enum Variant {
    /** Alg. 3: shrink the larger of ||B|| and ||A||. */
    OBAR("lora-obar"),
    /** Alg. 2: grow the factor whose gradient is larger. */
    NBAR("lora-nbar");

    private final String id;

    Variant(String id) {
      this.id = id;
    }
  }

  /** LoRA-oBAR's registration. */
  public static final MethodSpec<Cfg> OBAR = spec(Variant.OBAR);

  /** LoRA-nBAR's registration. */
  public static final MethodSpec<Cfg> NBAR = spec(Variant.NBAR);

  /** mu_0 0.5 (the middle of the papers' RoBERTa grids), cosine decay; one summary, one row. */
  private static MethodSpec<Cfg> spec(Variant variant) {
    return MethodSpec.of(
        variant.id,
        "BAR's rescaling of A and B towards balance",
        List.of(MU.defaultsTo(0.5), SCHEDULE.defaultsTo(Schedule.Kind.COSINE)),
        v -> new Cfg(variant, v.get(MU), v.get(SCHEDULE)),
        Bar::new);
  }

  /**
   * @param variant oBAR or nBAR
   * @param mu0 alpha_0
   * @param schedule alpha_t / mu_0 over the run: constant, linear or cosine decay to 0
   */
  public record Cfg(Variant variant, double mu0, Schedule.Kind schedule) implements MethodConfig {
    /** Validates mu_0. */
    public Cfg {
      MethodConfig.require(
          mu0 >= 0 && Double.isFinite(mu0), variant.id + ": bar-mu must be >= 0, got " + mu0);
    }

    @Override
    public String id() {
      return variant.id;
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
    double alpha = cfg.mu0() * Schedule.of(cfg.schedule(), 1.0, 0, t.total()).at(t.index());
    double f = alpha * t.lr();
    for (String m : p.modules()) {
      String a = TensorNames.loraA(m);
      String b = TensorNames.loraB(m);
      boolean growB =
          cfg.variant() == Variant.NBAR
              ? Perturbations.norm(g, List.of(b)) >= Perturbations.norm(g, List.of(a))
              : Perturbations.norm(p.tree(), List.of(b)) < Perturbations.norm(p.tree(), List.of(a));
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
