package dev.loraort.trainer.method;

import static dev.loraort.trainer.method.MethodSetting.NORM_SCOPE;
import static dev.loraort.trainer.method.MethodSetting.RHO;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.linalg.Blas;
import dev.loraort.linalg.Matrix;
import dev.loraort.trainer.method.MethodConfig.NormScope;
import dev.loraort.trainer.optim.Chain;
import dev.loraort.trainer.optim.Optimizers;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

/**
 * Bi-LoRA (docs/methods.md section 6): an auxiliary branch s B2 A2 beside the primary s B1 A1, fed
 * as one adapter concatenated along lora_r ([A1; A2], [B1 B2]). One pass gives all four gradients;
 * the primary descends (the run's optimizer), the auxiliary ascends (its own AdamW, maximize,
 * weight decay 0, the run's learning rate), then the auxiliary is clipped to ||s B2 A2|| &lt;= rho
 * over all layers together (or per layer), by sqrt(rho / c) on both factors. The auxiliary branch
 * is discarded after training: adapters hold the primary only.
 *
 * <p>Choices the paper leaves open (docs/methods.md): PEFT init for the auxiliary (B2 = 0, so no
 * perturbation at step 0), its scale s2 = s, constant rho.
 */
public final class BiLora implements SharpnessMethod<BiLora.State> {
  /** r2, the auxiliary branch's rank. */
  public static final MethodSetting<Integer> AUX_RANK =
      MethodSetting.integer("--aux-rank", "rank of the auxiliary branch");

  /** The registration: rho 0.05, r2 = 8, global clip (the paper's best). */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
          "bi-lora",
          "an auxiliary branch trained by ascent, clipped to ||s B2 A2|| <= rho",
          List.of(
              RHO.defaultsTo(0.05),
              AUX_RANK.defaultsTo(8),
              NORM_SCOPE.defaultsTo(NormScope.GLOBAL)),
          v -> new Cfg(v.get(RHO), v.get(AUX_RANK), v.get(NORM_SCOPE)),
          BiLora::new);

  /**
   * @param rho the radius of the auxiliary branch
   * @param auxRank r2
   * @param normScope global clip (default; the paper's best) or per-layer
   */
  public record Cfg(double rho, int auxRank, NormScope normScope) implements MethodConfig {
    /** Validates rho and r2. */
    public Cfg {
      MethodConfig.require(rho > 0 && Double.isFinite(rho), "bi-lora: rho must be > 0, got " + rho);
      MethodConfig.require(auxRank >= 1, "bi-lora: aux-rank must be >= 1, got " + auxRank);
    }

    @Override
    public String id() {
      return SPEC.id();
    }
  }

  /** The auxiliary branch, its optimizer state and this step's gradients. */
  public static final class State {
    ParamTree aux;
    Chain optimizer;
    List<Object> optState;
    ParamTree auxGrads;
    double c;
    // per module: A2, B2, A2 A2^T and B2^T B2, kept from step to step (direct buffers)
    final Map<String, Matrix[]> branchMatrices = new ConcurrentHashMap<>();

    /**
     * @return the auxiliary tensors (A2, B2 under the primary's names)
     */
    public ParamTree aux() {
      return aux;
    }
  }

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public BiLora(Cfg cfg) {
    this.cfg = cfg;
  }

  @Override
  public Cfg config() {
    return cfg;
  }

  @Override
  public State init(LoraParams p, Setup setup) {
    Map<String, Tensor> aux = new LinkedHashMap<>();
    int r2 = cfg.auxRank();
    for (String m : p.modules()) {
      long in = p.tree().shape(TensorNames.loraA(m))[1];
      long out = p.tree().shape(TensorNames.loraB(m))[0];
      float[] a = new float[(int) (r2 * in)];
      double bound = 1 / Math.sqrt(in); // PEFT's kaiming_uniform(a = sqrt(5))
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) ((setup.rng().nextDouble() * 2 - 1) * bound);
      }
      aux.put(TensorNames.loraA(m), Tensor.ofFloats(new long[] {r2, in}, a));
      aux.put(
          TensorNames.loraB(m), Tensor.ofFloats(new long[] {out, r2}, new float[(int) (out * r2)]));
    }
    State s = new State();
    s.aux = ParamTree.of(aux);
    s.optimizer =
        Optimizers.adamw(setup.lr(), setup.beta1(), setup.beta2(), setup.eps(), 0, 0, true);
    s.optState = s.optimizer.init(s.aux);
    return s;
  }

  @Override
  public int passes() {
    return 1;
  }

  @Override
  public Map<String, Tensor> beforePass(int pass, LoraParams p, State s, Step t) {
    List<String> modules = p.modules();
    Tensor[] as = new Tensor[modules.size()];
    Tensor[] bs = new Tensor[modules.size()];
    int r2 = cfg.auxRank();
    IntStream.range(0, modules.size()) // modules are independent: one task each, same result
        .parallel()
        .forEach(
            k -> {
              String a = TensorNames.loraA(modules.get(k));
              String b = TensorNames.loraB(modules.get(k));
              int r1 = p.rank(modules.get(k)); // rank_pattern: r1 per module, r2 for all
              float[] a1 = p.tree().get(a);
              float[] a2 = s.aux.get(a);
              long in = p.tree().shape(a)[1];
              float[] ac = new float[a1.length + a2.length]; // [A1; A2]: rows
              System.arraycopy(a1, 0, ac, 0, a1.length);
              System.arraycopy(a2, 0, ac, a1.length, a2.length);
              as[k] = Tensor.ofFloats(new long[] {ac.length / in, in}, ac);
              int out = (int) p.tree().shape(b)[0];
              float[] b1 = p.tree().get(b);
              float[] b2 = s.aux.get(b);
              float[] bc = new float[out * (r1 + r2)]; // [B1 B2]: columns
              for (int i = 0; i < out; i++) {
                System.arraycopy(b1, i * r1, bc, i * (r1 + r2), r1);
                System.arraycopy(b2, i * r2, bc, i * (r1 + r2) + r1, r2);
              }
              bs[k] = Tensor.ofFloats(new long[] {out, r1 + r2}, bc);
            });
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    for (int k = 0; k < modules.size(); k++) {
      feeds.put(TensorNames.loraA(modules.get(k)), as[k]);
      feeds.put(TensorNames.loraB(modules.get(k)), bs[k]);
    }
    return feeds;
  }

  @Override
  public ParamTree afterGrad(int pass, ParamTree g, LoraParams p, State s, Step t) {
    ParamTree primary = p.tree().zerosLike();
    s.auxGrads = s.aux.zerosLike();
    int r2 = cfg.auxRank();
    Set<String> auxNames = Set.copyOf(s.aux.names());
    primary.names().parallelStream() // tensors are independent: one task each, same result
        .forEach(
            n -> {
              float[] src = g.get(n);
              float[] dst = primary.get(n);
              if (!auxNames.contains(n)) {
                System.arraycopy(src, 0, dst, 0, dst.length); // a trainable head
              } else if (n.endsWith(".lora_A.weight")) {
                System.arraycopy(src, 0, dst, 0, dst.length);
                System.arraycopy(src, dst.length, s.auxGrads.get(n), 0, s.auxGrads.get(n).length);
              } else {
                float[] aux = s.auxGrads.get(n);
                int r1 = (int) p.tree().shape(n)[1];
                int out = dst.length / r1;
                for (int i = 0; i < out; i++) {
                  System.arraycopy(src, i * (r1 + r2), dst, i * r1, r1);
                  System.arraycopy(src, i * (r1 + r2) + r1, aux, i * r2, r2);
                }
              }
            });
    return primary;
  }

  @Override
  public void afterUpdate(LoraParams p, State s, Step t) {
    s.optState = s.optimizer.update(s.auxGrads, s.optState, s.aux); // ascent
    s.aux.addScaled(1.0, s.auxGrads);
    List<String> modules = p.modules();
    double[] c2 = new double[modules.size()];
    int r2 = cfg.auxRank();
    IntStream.range(0, modules.size())
        .parallel()
        .forEach(
            i -> {
              String a = TensorNames.loraA(modules.get(i));
              String b = TensorNames.loraB(modules.get(i));
              int in = (int) s.aux.shape(a)[1];
              int out = (int) s.aux.shape(b)[0];
              Matrix[] m =
                  s.branchMatrices.computeIfAbsent(
                      modules.get(i),
                      k ->
                          new Matrix[] {
                            Matrix.zeros(r2, in),
                            Matrix.zeros(out, r2),
                            Matrix.zeros(r2, r2),
                            Matrix.zeros(r2, r2)
                          });
              Matrix a2 = m[0];
              Matrix b2 = m[1];
              Matrix ka = m[2];
              Matrix kb = m[3];
              a2.setFloats(s.aux.get(a));
              b2.setFloats(s.aux.get(b));
              Blas.gemm(true, false, 1, b2, b2, 0, kb); // B2^T B2
              Blas.gemm(false, true, 1, a2, a2, 0, ka); // A2 A2^T
              double s2 = p.scale(modules.get(i)); // the branch is fed with its module's s
              c2[i] = s2 * s2 * kb.dot(ka); // ||s B2 A2||_F^2, not formed
            });
    double total = 0;
    for (double v : c2) {
      total += v;
    }
    double[] factor = new double[modules.size()];
    for (int i = 0; i < modules.size(); i++) {
      double c = Math.sqrt(cfg.normScope() == MethodConfig.NormScope.GLOBAL ? total : c2[i]);
      factor[i] = c > cfg.rho() ? Math.sqrt(cfg.rho() / c) : 1;
    }
    IntStream.range(0, modules.size())
        .parallel()
        .filter(i -> factor[i] != 1)
        .forEach(
            i -> {
              scale(s.aux.get(TensorNames.loraA(modules.get(i))), factor[i]);
              scale(s.aux.get(TensorNames.loraB(modules.get(i))), factor[i]);
            });
    s.c = 0;
    for (int i = 0; i < modules.size(); i++) {
      double f = factor[i];
      s.c += c2[i] * f * f * f * f;
    }
    s.c = Math.sqrt(s.c);
  }

  /** Prefix of the auxiliary branch's tensors in state maps. */
  public static final String AUX = "aux.";

  /** Prefix of the auxiliary optimizer's state in state maps. */
  public static final String AUX_OPT = "aux_opt.";

  @Override
  public void loadState(State s, Map<String, Tensor> tensors) {
    for (String n : s.aux.names()) {
      Tensor t = tensors.get(AUX + n);
      if (t == null || !java.util.Arrays.equals(t.shape(), s.aux.shape(n))) {
        throw new IllegalArgumentException(
            "bi-lora state: "
                + AUX
                + n
                + (t == null ? " is missing" : " has shape " + java.util.Arrays.toString(t.shape()))
                + "; expected "
                + java.util.Arrays.toString(s.aux.shape(n)));
      }
      System.arraycopy(t.floats(), 0, s.aux.get(n), 0, t.size());
    }
    Map<String, Tensor> opt = new LinkedHashMap<>();
    tensors.forEach(
        (k, v) -> {
          if (k.startsWith(AUX_OPT)) {
            opt.put(k.substring(AUX_OPT.length()), v);
          }
        });
    if (!opt.isEmpty()) { // a checkpoint (a golden trace's start has no optimizer state)
      s.optState = s.optimizer.load(s.optState, opt);
    }
  }

  @Override
  public Map<String, Tensor> stateTensors(State s) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    s.aux.tensors().forEach((n, t) -> out.put(AUX + n, t));
    s.optimizer.save(s.optState).forEach((n, t) -> out.put(AUX_OPT + n, t));
    return out;
  }

  @Override
  public double perturbationNorm(State s) {
    return s.c;
  }

  private static void scale(float[] x, double f) {
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (x[i] * f);
    }
  }
}
