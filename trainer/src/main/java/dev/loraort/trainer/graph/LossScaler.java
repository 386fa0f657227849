package dev.loraort.trainer.graph;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Dynamic loss scaling for a mixed-precision train graph (manifest {@code mixed_precision}): each
 * run feeds {@code loss_scale}, and the graph returns the float32 gradients of loss * loss_scale,
 * which are divided back here in float32. The scale starts at 2^16, doubles after {@value
 * #GROWTH_INTERVAL} runs without overflow, and halves on an overflow. Unlike PyTorch's GradScaler,
 * which skips the optimizer step after an overflow, a run whose scaled gradients overflow is
 * repeated at half the scale: every batch is used and a method never sees infinite gradients (its
 * perturbation and state stay exact).
 */
public final class LossScaler {
  /** The graph input that carries the scale. */
  public static final String INPUT = "loss_scale";

  /** Runs without overflow before the scale doubles (PyTorch's GradScaler default). */
  static final int GROWTH_INTERVAL = 2000;

  private static final double INITIAL = 65536;
  private double scale = INITIAL;
  private long goodRuns;
  private long overflows;

  /**
   * One run with the current scale, repeated at half the scale while the gradients overflow.
   *
   * @param graph runs the mixed-precision train graph on the feeds, fetching the loss and every
   *     gradient
   * @param feeds the feeds, without loss_scale
   * @return the outputs, gradients unscaled; a non-finite loss is returned as it is (no scale fixes
   *     it; the caller treats it as divergence)
   * @throws GraphException if the gradients overflow even at scale 1
   */
  public Map<String, Tensor> run(
      Function<Map<String, Tensor>, Map<String, Tensor>> graph, Map<String, Tensor> feeds) {
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    while (true) {
      f.put(INPUT, Tensor.scalar((float) scale));
      Map<String, Tensor> out = graph.apply(f);
      if (!Float.isFinite(out.get(TensorNames.LOSS).floats()[0])) {
        return out;
      }
      if (unscale(out)) {
        if (++goodRuns >= GROWTH_INTERVAL) {
          scale *= 2;
          goodRuns = 0;
        }
        return out;
      }
      overflows++;
      goodRuns = 0;
      scale /= 2;
      if (scale < 1) {
        throw new GraphException(
            "fp16 gradients overflow even at loss scale 1 with a finite loss;"
                + " train in fp32 (without --fp16)");
      }
    }
  }

  /**
   * Divides the gradients by the scale in place, in one pass; false if any is not finite (the run's
   * outputs are then discarded).
   */
  private boolean unscale(Map<String, Tensor> out) {
    float inv = (float) (1 / scale); // a power of two: exact
    boolean finite = true;
    for (Map.Entry<String, Tensor> e : out.entrySet()) {
      if (e.getKey().equals(TensorNames.LOSS)) {
        continue;
      }
      float[] a = e.getValue().floats();
      for (int i = 0; i < a.length; i++) {
        a[i] *= inv;
        finite &= Float.isFinite(a[i]);
      }
    }
    return finite;
  }

  /**
   * @return the current scale
   */
  public double scale() {
    return scale;
  }

  /**
   * @return runs repeated because their gradients overflowed
   */
  public long overflows() {
    return overflows;
  }

  /**
   * @return the scale and the count of runs since it last changed, for checkpoints
   */
  public Map<String, Tensor> state() {
    return Map.of(
        "scale", Tensor.scalar((float) scale), "good_runs", Tensor.scalar((float) goodRuns));
  }

  /**
   * Continues from a checkpoint's {@link #state()}.
   *
   * @param s the state; empty (a checkpoint of an fp32 run) keeps the initial scale
   */
  public void load(Map<String, Tensor> s) {
    if (s.isEmpty()) {
      return;
    }
    scale = s.get("scale").floats()[0];
    goodRuns = (long) s.get("good_runs").floats()[0];
  }
}
