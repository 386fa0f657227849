package dev.loraort.trainer.method;

import static dev.loraort.trainer.method.MethodSetting.NORM_SCOPE;
import static dev.loraort.trainer.method.MethodSetting.RHO;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.method.MethodConfig.NormScope;
import dev.loraort.trainer.params.Chunks;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA-SAM (docs/methods.md section 2): pass 1 gives g; eps = rho g / (||g|| + 1e-12) over LoRA
 * tensors (global norm by default); pass 2 at (A, B) + eps gives the gradient the optimizer uses;
 * the weights are then restored from a saved copy, bit for bit.
 */
public final class LoraSam implements SharpnessMethod<SecondPassPerturbation> {
  /** The registration: rho 0.05, global norm (SAM's). */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
          "lora-sam",
          "SAM on A, B: eps = rho g / ||g||, gradient at (A, B) + eps",
          List.of(RHO.defaultsTo(0.05), NORM_SCOPE.defaultsTo(NormScope.GLOBAL)),
          v -> new Cfg(v.get(RHO), v.get(NORM_SCOPE)),
          LoraSam::new);

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

    @Override
    public String id() {
      return SPEC.id();
    }
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
      List<List<String>> groups = Perturbations.groups(p, cfg.normScope());
      double[] norms = Perturbations.norms(g, groups);
      List<String> names = new ArrayList<>();
      List<Float> factor = new ArrayList<>();
      double total = 0;
      for (int i = 0; i < groups.size(); i++) {
        double f = cfg.rho() / (norms[i] + 1e-12);
        for (String n : groups.get(i)) {
          names.add(n);
          factor.add((float) f);
        }
        total += f * f * norms[i] * norms[i];
      }
      List<float[]> grads = names.stream().map(g::get).toList();
      List<float[]> eps = grads.stream().map(x -> new float[x.length]).toList();
      Chunks.forEach(
          Chunks.lengths(grads),
          (k, from, to) -> {
            float f = factor.get(k);
            float[] gv = grads.get(k);
            float[] e = eps.get(k);
            for (int i = from; i < to; i++) {
              e[i] = f * gv[i];
            }
          });
      Map<String, float[]> byName = new LinkedHashMap<>();
      for (int k = 0; k < names.size(); k++) {
        byName.put(names.get(k), eps.get(k));
      }
      s.perturbation = byName;
      s.norm = Math.sqrt(total);
      return g;
    }
    s.afterPass(pass, p);
    return g;
  }

  @Override
  public double perturbationNorm(SecondPassPerturbation s) {
    return s.norm;
  }
}
