package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The frozen-backbone baseline: only the trainable heads learn (a probe of the frozen model's
 * features). The LoRA gradients are zeroed, so Adam never moves A or B and B stays 0: the adapter
 * changes nothing in the backbone. Not a flat-minima method; there to compare against.
 */
public final class HeadOnly implements SharpnessMethod<HeadOnly.State> {
  /**
   * The registration: no settings. No golden trace: the PyTorch reference has no head-only run;
   * {@code MethodsTest} checks that A and B stay as they were.
   */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
              "head-only",
              "the baseline: only the heads train, on the frozen backbone (LoRA gradients zeroed)",
              List.of(),
              v -> new Cfg(),
              c -> new HeadOnly())
          .withoutGoldenTrace();

  /** No settings. */
  public record Cfg() implements MethodConfig {
    @Override
    public String id() {
      return SPEC.id();
    }
  }

  /** No state. */
  public record State() {}

  private final Cfg cfg = new Cfg();

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
    for (String m : p.modules()) {
      Arrays.fill(g.get(TensorNames.loraA(m)), 0f);
      Arrays.fill(g.get(TensorNames.loraB(m)), 0f);
    }
    return g;
  }
}
