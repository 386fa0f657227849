package dev.loraort.trainer.method;

import static dev.loraort.trainer.method.MethodSetting.NORM_SCOPE;
import static dev.loraort.trainer.method.MethodSetting.RHO;
import static dev.loraort.trainer.method.MethodSetting.RHO_SCHEDULE;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.method.MethodConfig.NormScope;
import dev.loraort.trainer.method.MethodConfig.RhoSchedule;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.List;
import java.util.Map;

/**
 * FMLoRA (docs/methods.md section 3, EFlat's two-pass "Flat-LoRA"): pass 1 at (A, B) gives the
 * full-space estimate G_bar from pseudo-inverses; E_B = (1/s) rho_t G_bar/||G_bar|| A^+ moves the
 * perturbation onto B; pass 2 at B + E_B gives the gradient; B is restored from a saved copy. The
 * perturbation of W actually applied is G_bar P_A scaled, of norm at most rho (section 3).
 */
public final class FmLora implements SharpnessMethod<SecondPassPerturbation> {
  /** The registration: rho 0.05 with cosine decay to 0.02, per-layer norm. */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
          "fmlora",
          "full-space estimate G_bar from pseudo-inverses, perturbation moved onto B",
          List.of(
              RHO.defaultsTo(0.05),
              RHO_SCHEDULE.defaultsTo(RhoSchedule.COSINE),
              NORM_SCOPE.defaultsTo(NormScope.PER_LAYER)),
          v -> new Cfg(v.get(RHO), v.get(RHO_SCHEDULE), v.get(NORM_SCOPE)),
          FmLora::new);

  /**
   * @param rho the initial radius rho_0
   * @param rhoSchedule constant, or cosine decay to 0.4 rho_0
   * @param normScope per-layer (default) or global
   */
  public record Cfg(double rho, RhoSchedule rhoSchedule, NormScope normScope)
      implements MethodConfig {
    /** Validates rho. */
    public Cfg {
      MethodConfig.require(rho > 0 && Double.isFinite(rho), "fmlora: rho must be > 0, got " + rho);
    }

    @Override
    public String id() {
      return SPEC.id();
    }
  }

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public FmLora(Cfg cfg) {
    this.cfg = cfg;
  }

  @Override
  public Cfg config() {
    return cfg;
  }

  @Override
  public SecondPassPerturbation init(LoraParams p, Setup setup) {
    return new SecondPassPerturbation();
  }

  @Override
  public int passes() {
    return 2;
  }

  @Override
  public Map<String, Tensor> beforePass(int pass, LoraParams p, SecondPassPerturbation s, Step t) {
    s.beforePass(pass, p);
    return Map.of();
  }

  @Override
  public ParamTree afterGrad(
      int pass, ParamTree g, LoraParams p, SecondPassPerturbation s, Step t) {
    if (pass == 0) {
      double rho = cfg.rhoSchedule().at(cfg.rho(), t.index(), t.total());
      s.perturbation = Perturbations.flatPerturbationOfB(p, g, rho, cfg.normScope(), s.scratch);
      s.norm = Perturbations.norm(s.perturbation);
    }
    s.afterPass(pass, p);
    return g;
  }

  @Override
  public double perturbationNorm(SecondPassPerturbation s) {
    return s.norm;
  }
}
