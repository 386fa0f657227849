package dev.loraort.trainer.eval;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Sharpness of a trained adapter in the full weight space of the adapted layers (as the EFlat paper
 * uses it): the largest loss increase within ||E||_F &lt;= rho (E over all adapted W together),
 * found by normalised gradient ascent with projection, and the mean increase over random directions
 * of norm rho.
 *
 * <p>The graphs take only LoRA inputs, so E enters through the shared {@code lora_r}: A' = [A; I],
 * B' = [B, E / s] gives s B' A' = s B A + E, and the gradient of B''s last columns is s dL/dW, the
 * full-space gradient (s is each module's own, B' fed folded like B: {@link LoraParams#feeds}).
 * This diagnostic forms n x m matrices on the host (E and dL/dW per layer); the training methods
 * never do.
 *
 * @param cleanLoss mean loss over the examples at the adapter
 * @param adversarialIncrease largest loss increase found within the ball
 * @param randomMeanIncrease mean increase over random directions on the sphere
 * @param rho the radius
 * @param ascentSteps ascent steps used
 * @param directions random directions used
 */
public record Sharpness(
    double cleanLoss,
    double adversarialIncrease,
    double randomMeanIncrease,
    double rho,
    int ascentSteps,
    int directions) {

  /**
   * @param m the model
   * @param p the adapter
   * @param data examples (fixed batches, in order)
   * @param batchSize examples per graph run
   * @param rho the radius
   * @param ascentSteps normalised ascent steps (1 = first-order, SAM's)
   * @param directions random directions to average
   * @param seed the random directions' seed
   * @param device where to run
   * @param threads CPU threads
   * @return the measurements
   */
  public static Sharpness measure(
      Manifest m,
      LoraParams p,
      List<JsonlDataset.Example> data,
      int batchSize,
      double rho,
      int ascentSteps,
      int directions,
      long seed,
      ExecutionDevice device,
      int threads) {
    if (!(rho > 0) || ascentSteps < 1 || directions < 0) {
      throw new IllegalArgumentException(
          "sharpness: need rho > 0, steps >= 1, directions >= 0; got "
              + rho
              + ", "
              + ascentSteps
              + ", "
              + directions);
    }
    Batcher b = Batcher.inOrder(data, m, batchSize);
    List<Map<String, Tensor>> batches = new ArrayList<>();
    for (int i = 0; i < b.batchesPerEpoch(); i++) {
      batches.add(b.next());
    }
    try (ModelGraphs g = ModelGraphs.open(m, device, threads, false);
        GraphSession lossOnly = ModelGraphs.openLoss(m, device, threads)) {
      Probe probe = new Probe(m, p, g, lossOnly, batches);
      Map<String, float[]> zero = probe.zeros();
      double clean = probe.loss(zero, null);
      Map<String, float[]> e = zero;
      for (int k = 0; k < ascentSteps; k++) {
        Map<String, float[]> grad = new LinkedHashMap<>();
        probe.loss(e, grad);
        e = add(e, grad, rho / ascentSteps / norm(grad));
        double n = norm(e);
        if (n > rho) {
          e = add(zero, e, rho / n); // project back onto the ball
        }
      }
      double adversarial = probe.loss(e, null) - clean;
      SplittableRandom rng = new SplittableRandom(seed);
      double sum = 0;
      for (int j = 0; j < directions; j++) {
        Map<String, float[]> z = new LinkedHashMap<>();
        zero.forEach(
            (k, v) -> {
              float[] r = new float[v.length];
              for (int i = 0; i < r.length; i++) {
                r[i] = (float) gaussian(rng);
              }
              z.put(k, r);
            });
        sum += probe.loss(add(zero, z, rho / norm(z)), null) - clean;
      }
      return new Sharpness(
          clean,
          adversarial,
          directions == 0 ? Double.NaN : sum / directions,
          rho,
          ascentSteps,
          directions);
    }
  }

  /**
   * Runs the train graph with A' = [A; I], B' = [B, E / s_m] per adapted layer; the forward alone
   * where only the loss is asked for.
   */
  static final class Probe {
    private final Manifest m;
    private final LoraParams p;
    private final ModelGraphs g;
    private final GraphSession lossOnly;
    private final List<Map<String, Tensor>> batches;

    Probe(
        Manifest m,
        LoraParams p,
        ModelGraphs g,
        GraphSession lossOnly,
        List<Map<String, Tensor>> batches) {
      this.m = m;
      this.p = p;
      this.g = g;
      this.lossOnly = lossOnly;
      this.batches = batches;
    }

    Map<String, float[]> zeros() {
      Map<String, float[]> z = new LinkedHashMap<>();
      m.lora().modules().forEach(mod -> z.put(mod.name(), new float[mod.out() * mod.in()]));
      return z;
    }

    /** Mean loss at W + E; if {@code grad} is given, fills it with dL/dW per layer ([out, in]). */
    double loss(Map<String, float[]> e, Map<String, float[]> grad) {
      Map<String, Tensor> wide = new LinkedHashMap<>();
      for (Manifest.LoraModule mod : m.lora().modules()) {
        int r = p.rank(mod.name());
        float s = p.scale(mod.name());
        int in = mod.in();
        int out = mod.out();
        float[] a = p.tree().get(TensorNames.loraA(mod.name()));
        float[] ap = new float[(r + in) * in];
        System.arraycopy(a, 0, ap, 0, a.length);
        for (int i = 0; i < in; i++) {
          ap[(r + i) * in + i] = 1f;
        }
        float[] bw = p.tree().get(TensorNames.loraB(mod.name()));
        float[] ew = e.get(mod.name());
        float[] bp = new float[out * (r + in)];
        for (int i = 0; i < out; i++) {
          System.arraycopy(bw, i * r, bp, i * (r + in), r);
          for (int j = 0; j < in; j++) {
            bp[i * (r + in) + r + j] = ew[i * in + j] / s;
          }
        }
        wide.put(TensorNames.loraA(mod.name()), Tensor.ofFloats(new long[] {r + in, in}, ap));
        wide.put(TensorNames.loraB(mod.name()), Tensor.ofFloats(new long[] {out, r + in}, bp));
      }
      Map<String, Tensor> feeds = p.feeds(wide); // B' folded by s_m / s like B, and padded
      List<String> outs = new ArrayList<>();
      outs.add(TensorNames.LOSS);
      if (grad != null) {
        m.lora()
            .modules()
            .forEach(mod -> outs.add(TensorNames.grad(TensorNames.loraB(mod.name()))));
        zeros().forEach(grad::put);
      }
      double total = 0;
      for (Map<String, Tensor> batch : batches) {
        Map<String, Tensor> f = new LinkedHashMap<>(batch);
        f.putAll(feeds);
        if (grad == null) {
          total += lossOnly.run(f, outs).get(TensorNames.LOSS).floats()[0];
          continue;
        }
        Map<String, Tensor> o = p.trueGradients(g.train().run(f, outs), wide);
        total += o.get(TensorNames.LOSS).floats()[0];
        for (Manifest.LoraModule mod : m.lora().modules()) {
          int r = p.rank(mod.name());
          float s = p.scale(mod.name());
          float[] gb = o.get(TensorNames.grad(TensorNames.loraB(mod.name()))).floats();
          float[] acc = grad.get(mod.name());
          for (int i = 0; i < mod.out(); i++) {
            for (int j = 0; j < mod.in(); j++) {
              acc[i * mod.in() + j] += gb[i * (r + mod.in()) + r + j] / s / batches.size();
            }
          }
        }
      }
      return total / batches.size();
    }
  }

  private static Map<String, float[]> add(
      Map<String, float[]> x, Map<String, float[]> y, double f) {
    Map<String, float[]> out = new LinkedHashMap<>();
    x.forEach(
        (k, v) -> {
          float[] w = y.get(k);
          float[] z = new float[v.length];
          for (int i = 0; i < z.length; i++) {
            z[i] = (float) (v[i] + f * w[i]);
          }
          out.put(k, z);
        });
    return out;
  }

  private static double norm(Map<String, float[]> x) {
    double s = 0;
    for (float[] v : x.values()) {
      for (float f : v) {
        s += (double) f * f;
      }
    }
    return Math.sqrt(s);
  }

  private static double gaussian(SplittableRandom rng) { // Box-Muller: reproducible from the seed
    double u = 1 - rng.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextDouble());
  }
}
