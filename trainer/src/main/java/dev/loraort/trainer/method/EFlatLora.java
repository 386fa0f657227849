package dev.loraort.trainer.method;

import static dev.loraort.trainer.method.MethodSetting.NORM_SCOPE;
import static dev.loraort.trainer.method.MethodSetting.RHO;
import static dev.loraort.trainer.method.MethodSetting.RHO_SCHEDULE;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.method.MethodConfig.NormScope;
import dev.loraort.trainer.method.MethodConfig.RhoSchedule;
import dev.loraort.trainer.params.Chunks;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EFlat-LoRA (docs/methods.md section 4): one pass at B~ = B + E_hat_{t-1}; then E_t comes from
 * that pass's gradients with B~ in (B~^T)^+; B is restored from a saved copy; the optimizer steps
 * with the pass's gradients; then E_hat_t = (1 - beta_new) E_hat_{t-1} + beta_new E_t (Eq. 18:
 * beta_new weights the new perturbation), and E_hat_1 = E_1 (the first step runs unperturbed).
 */
public final class EFlatLora implements SharpnessMethod<EFlatLora.State> {
  /** beta_new, the EMA weight of the new perturbation. */
  public static final MethodSetting<Double> BETA =
      MethodSetting.number("--beta", "EMA weight of the new perturbation, beta_new");

  /** The registration: rho 0.05 with cosine decay to 0.02, beta_new 0.9, per-layer norm. */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
          "eflat-lora",
          "FMLoRA's perturbation from an EMA of past steps (beta_new weights the new one)",
          List.of(
              RHO.defaultsTo(0.05),
              RHO_SCHEDULE.defaultsTo(RhoSchedule.COSINE),
              BETA.defaultsTo(0.9),
              NORM_SCOPE.defaultsTo(NormScope.PER_LAYER)),
          v -> new Cfg(v.get(RHO), v.get(RHO_SCHEDULE), v.get(BETA), v.get(NORM_SCOPE)),
          EFlatLora::new);

  /**
   * @param rho the initial radius rho_0
   * @param rhoSchedule constant, or cosine decay to 0.4 rho_0 (default)
   * @param betaNew the EMA weight of the new perturbation
   * @param normScope per-layer (default, as the EFlat code) or global
   */
  public record Cfg(double rho, RhoSchedule rhoSchedule, double betaNew, NormScope normScope)
      implements MethodConfig {
    /** Validates rho and beta_new. */
    public Cfg {
      MethodConfig.require(
          rho > 0 && Double.isFinite(rho), "eflat-lora: rho must be > 0, got " + rho);
      MethodConfig.require(
          betaNew > 0 && betaNew <= 1,
          "eflat-lora: beta (beta_new) must be in (0, 1], got " + betaNew);
    }

    @Override
    public String id() {
      return SPEC.id();
    }
  }

  /** The EMA perturbation per B, and the B it replaced during this step's pass. */
  public static final class State {
    final Map<String, float[]> ema = new LinkedHashMap<>();
    final Map<String, float[]> saved = new LinkedHashMap<>();
    final Perturbations.Scratch scratch = new Perturbations.Scratch();
    double applied;
  }

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public EFlatLora(Cfg cfg) {
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
    s.applied = Perturbations.norm(s.ema);
    Perturbations.apply(p, s.ema, s.saved); // B~ = B + E_hat_{t-1} (nothing at the first step)
    return Map.of();
  }

  @Override
  public ParamTree afterGrad(int pass, ParamTree g, LoraParams p, State s, Step t) {
    double rho = cfg.rhoSchedule().at(cfg.rho(), t.index(), t.total());
    Map<String, float[]> e =
        Perturbations.flatPerturbationOfB(p, g, rho, cfg.normScope(), s.scratch); // at B~
    Perturbations.restore(p, s.saved);
    if (s.ema.isEmpty()) {
      s.ema.putAll(e); // E_hat_1 = E_1
      return g;
    }
    float keep = (float) (1 - cfg.betaNew());
    float take = (float) cfg.betaNew();
    List<float[]> old = e.keySet().stream().map(s.ema::get).toList();
    List<float[]> now = List.copyOf(e.values());
    Chunks.forEach(
        Chunks.lengths(old),
        (k, from, to) -> {
          float[] o = old.get(k);
          float[] n = now.get(k);
          for (int i = from; i < to; i++) {
            o[i] = keep * o[i] + take * n[i];
          }
        });
    return g;
  }

  /** Prefix of the EMA perturbation in state maps. */
  public static final String EMA = "ema.";

  @Override
  public Map<String, Tensor> stateTensors(State s) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    s.ema.forEach((n, e) -> out.put(EMA + n, Tensor.ofFloats(new long[] {e.length}, e)));
    return out;
  }

  @Override
  public void loadState(State s, Map<String, Tensor> tensors) {
    s.ema.clear();
    tensors.forEach(
        (k, v) -> {
          if (k.startsWith(EMA)) {
            s.ema.put(k.substring(EMA.length()), v.floats().clone());
          }
        });
  }

  @Override
  public double perturbationNorm(State s) {
    return s.applied;
  }
}
