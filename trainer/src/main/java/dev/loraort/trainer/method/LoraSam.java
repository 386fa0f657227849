package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA-SAM (methods.md section 2): pass 1 gives g; eps = rho g / (||g|| + 1e-12) over the LoRA
 * tensors (global norm by default); pass 2 at (A, B) + eps gives the gradient the optimizer uses;
 * the weights are then restored from a saved copy, bit for bit.
 */
public final class LoraSam implements SharpnessMethod<LoraSam.State> {
  /**
   * @param rho the radius
   * @param normScope global (SAM) or per-layer
   */
  public record Cfg(double rho, NormScope normScope) implements MethodConfig {
    /** Validates rho. */
    public Cfg {
      MethodConfig.require(
          rho > 0 && Double.isFinite(rho), "lora-sam: rho must be > 0, got " + rho);
    }

    /**
     * @return rho 0.05, global norm
     */
    public static Cfg defaults() {
      return new Cfg(0.05, NormScope.GLOBAL);
    }

    @Override
    public String id() {
      return "lora-sam";
    }
  }

  /** The perturbation of this step and the weights it replaced. */
  public static final class State {
    final Map<String, float[]> eps = new LinkedHashMap<>();
    final Map<String, float[]> saved = new LinkedHashMap<>();
    double epsNorm;
  }

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public LoraSam(Cfg cfg) {
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
    return 2;
  }

  @Override
  public Map<String, Tensor> beforePass(int pass, LoraParams p, State s, Step t) {
    if (pass == 1) {
      Perturbations.apply(p, s.eps, s.saved);
    }
    return Map.of();
  }

  @Override
  public ParamTree afterGrad(int pass, ParamTree g, LoraParams p, State s, Step t) {
    if (pass == 0) {
      s.eps.clear();
      double total = 0;
      for (List<String> group : Perturbations.groups(p, cfg.normScope())) {
        double norm = Perturbations.norm(g, group);
        double f = cfg.rho() / (norm + 1e-12);
        for (String n : group) {
          float[] gv = g.get(n);
          float[] e = new float[gv.length];
          for (int i = 0; i < e.length; i++) {
            e[i] = (float) (f * gv[i]);
          }
          s.eps.put(n, e);
        }
        total += f * f * norm * norm;
      }
      s.epsNorm = Math.sqrt(total);
      return g;
    }
    Perturbations.restore(p, s.saved);
    return g;
  }

  @Override
  public double perturbationNorm(State s) {
    return s.epsNorm;
  }
}
