package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;
import java.util.stream.IntStream;

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
   * Elements per parallel task: large enough to amortise scheduling, small enough to spread a head.
   */
  private static final int CHUNK = 1 << 15;

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
    // elements are independent and each one's arithmetic is fixed, so updating chunks in parallel
    // gives bit-identical results for any thread count; at roberta-large's 1.8M trainable values
    // this
    // loop is the largest host cost of a LoRA step
    for (String k : updates.names()) {
      float[] g = updates.get(k);
      float[] m = s.mu().get(k);
      float[] v = s.nu().get(k);
      IntStream.range(0, (g.length + CHUNK - 1) / CHUNK)
          .parallel()
          .forEach(
              c -> {
                for (int i = c * CHUNK, end = Math.min(g.length, i + CHUNK); i < end; i++) {
                  m[i] = (float) (b1 * m[i] + (1 - b1) * g[i]);
                  v[i] = (float) (b2 * v[i] + (1 - b2) * g[i] * (double) g[i]);
                  g[i] = (float) ((m[i] / c1) / (Math.sqrt(v[i] / c2) + eps));
                }
              });
    }
    return new State(t, s.mu(), s.nu());
  }
}
