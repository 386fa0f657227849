package dev.loraort.trainer.method;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.List;
import java.util.Map;

/** Plain LoRA (docs/methods.md section 1): one pass, the gradients as they are. */
public final class Lora implements SharpnessMethod<Lora.State> {
  /** The registration: no settings. */
  public static final MethodSpec<Cfg> SPEC =
      MethodSpec.of(
          "lora",
          "PEFT LoRA: A kaiming-uniform, B = 0, s = alpha / r",
          List.of(),
          v -> new Cfg(),
          c -> new Lora());

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
    return g;
  }
}
