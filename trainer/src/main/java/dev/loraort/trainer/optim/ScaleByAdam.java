package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.Chunks;
import dev.loraort.trainer.params.ParamTree;
import java.util.List;

/**
 * Adam's rescaling with bias correction: u = m_hat / (sqrt(v_hat) + eps) (optax scale_by_adam).
 *
 * @param b1 first-moment decay
 * @param b2 second-moment decay
 * @param eps added to the denominator
 */
public record ScaleByAdam(double b1, double b2, double eps)
    implements GradientTransformation<ScaleByAdam.State> {
  /** Validates the decays. */
  public ScaleByAdam {
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(eps >= 0)) {
      throw new IllegalArgumentException(
          "adam: need 0 <= b1, b2 < 1 and eps >= 0, got b1=" + b1 + " b2=" + b2 + " eps=" + eps);
    }
  }

  /**
   * @param count steps taken
   * @param mu first moments (updated in place)
   * @param nu second moments (updated in place)
   */
  public record State(long count, ParamTree mu, ParamTree nu) {}

  @Override
  public State init(ParamTree params) {
    return new State(0, params.zerosLike(), params.zerosLike());
  }

  @Override
  public State update(ParamTree updates, State s, ParamTree params) {
    long t = s.count() + 1;
    double c1 = 1 - Math.pow(b1, t);
    double c2 = 1 - Math.pow(b2, t);
    // float32 arithmetic, as PyTorch's and optax's Adam: the JIT vectorises it (about 8x faster
    // than through double here), and at roberta-large's 1.8M trainable values this loop is the
    // largest host cost of a LoRA step
    float fb1 = (float) b1;
    float fb2 = (float) b2;
    float rb1 = (float) (1 - b1);
    float rb2 = (float) (1 - b2);
    float fc1 = (float) c1;
    float fc2 = (float) c2;
    float feps = (float) eps;
    List<String> names = updates.names();
    List<float[]> g = updates.arrays();
    List<float[]> m = names.stream().map(s.mu()::get).toList();
    List<float[]> v = names.stream().map(s.nu()::get).toList();
    Chunks.forEach(
        Chunks.lengths(g),
        (k, from, to) -> {
          float[] gk = g.get(k);
          float[] mk = m.get(k);
          float[] vk = v.get(k);
          for (int i = from; i < to; i++) {
            float mi = fb1 * mk[i] + rb1 * gk[i];
            float vi = fb2 * vk[i] + rb2 * gk[i] * gk[i];
            mk[i] = mi;
            vk[i] = vi;
            gk[i] = (mi / fc1) / ((float) Math.sqrt(vi / fc2) + feps);
          }
        });
    return new State(t, s.mu(), s.nu());
  }

  /**
   * The step count ({@code count}, int64 []) and the moments ({@code mu.<name>}, {@code
   * nu.<name>}).
   */
  @Override
  public java.util.Map<String, dev.loraort.artifacts.Tensor> save(State state) {
    java.util.Map<String, dev.loraort.artifacts.Tensor> out = new java.util.LinkedHashMap<>();
    out.put("count", Counts.tensor(state.count()));
    state.mu().tensors().forEach((k, v) -> out.put("mu." + k, v));
    state.nu().tensors().forEach((k, v) -> out.put("nu." + k, v));
    return out;
  }

  @Override
  public State load(State fresh, java.util.Map<String, dev.loraort.artifacts.Tensor> tensors) {
    Counts.copy(tensors, "mu.", fresh.mu());
    Counts.copy(tensors, "nu.", fresh.nu());
    return new State(Counts.read(tensors, "count"), fresh.mu(), fresh.nu());
  }
}
