package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.List;
import java.util.Map;

/**
 * Flat-LoRA (Li et al., docs/methods.md section 5): random weight noise in the whole space, eps_ij
 * ~ N(0, sigma_t^2 / in * ||W'_i,:||^2) with W' = W0 + s B A, drawn inside train_rwp.onnx from its
 * rwp_sigma input; sigma_t = sigma * (1 - cos(pi t / T)) / 2 grows over the run.
 *
 * <p>Departures from the reference code, and why: the noise is added inside the graph, so removing
 * it is exact (no in-place add/subtract drift); it is drawn per graph run, so with gradient
 * accumulation each micro-batch sees its own noise (the code shares one draw per optimizer step); t
 * counts optimizer steps, not micro-batches.
 */
public final class FlatLoraRwp implements SharpnessMethod<FlatLoraRwp.State> {
  /** sigma, the noise scale sigma_t grows to. */
  public static final MethodSetting<Double> SIGMA =
      MethodSetting.number("--sigma", "final noise scale sigma");

  /**
   * The registration: sigma 0.05 (T5 GLUE and Llama-2 in the paper). No golden trace: the noise is
   * drawn inside the graph; GoldenTraceTest checks that sigma = 0 gives the lora trace.
   */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
              "flat-lora",
              "random filter-wise weight noise in the full space, drawn in `train_rwp.onnx`",
              List.of(SIGMA.defaultsTo(0.05)),
              v -> new Cfg(v.get(SIGMA)),
              FlatLoraRwp::new)
          .withoutGoldenTrace();

  /**
   * @param sigma the final noise scale
   */
  public record Cfg(double sigma) implements MethodConfig {
    /** Validates sigma. */
    public Cfg {
      MethodConfig.require(
          sigma >= 0 && Double.isFinite(sigma), "flat-lora: sigma must be >= 0, got " + sigma);
    }

    @Override
    public String id() {
      return SPEC.id();
    }
  }

  /** No state: the noise lives in the graph. */
  public record State() {}

  private final Cfg cfg;

  /**
   * @param cfg settings
   */
  public FlatLoraRwp(Cfg cfg) {
    this.cfg = cfg;
  }

  @Override
  public Cfg config() {
    return cfg;
  }

  @Override
  public boolean usesRwpGraph() {
    return true;
  }

  @Override
  public State init(LoraParams p, Setup setup) {
    return new State();
  }

  @Override
  public int passes() {
    return 1;
  }

  /**
   * @param t the step
   * @return sigma_t
   */
  public double sigmaAt(Step t) {
    return cfg.sigma() * 0.5 * (1 - Math.cos(Math.PI * t.index() / Math.max(1, t.total())));
  }

  @Override
  public Map<String, Tensor> beforePass(int pass, LoraParams p, State s, Step t) {
    return Map.of(TensorNames.RWP_SIGMA, Tensor.scalar((float) sigmaAt(t)));
  }

  @Override
  public ParamTree afterGrad(int pass, ParamTree g, LoraParams p, State s, Step t) {
    return g;
  }
}
