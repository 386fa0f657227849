package dev.loraort.trainer.graph;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Checks of a model directory's train graph that need no PyTorch: its gradients against directional
 * finite differences of its own loss, and its loss and gradients against another directory's train
 * graph of the same model (another exporter, a rewrite).
 */
public final class TrainGraphChecks {
  /**
   * One compared quantity.
   *
   * @param name the parameter or output
   * @param expected the reference value (finite difference, or the other graph's largest |value|)
   * @param error the error relative to the reference's scale
   */
  public record Row(String name, double expected, double error) {}

  private TrainGraphChecks() {}

  /**
   * Parameters at which gradients say something: A as PEFT initializes it, B non-zero (at B = 0 the
   * gradient of A vanishes), the heads from trainable_init.
   *
   * @param m the manifest
   * @param seed the stream
   * @return the feeds of every parameter, lora_scale included
   * @throws IOException if trainable_init cannot be read
   */
  public static Map<String, Tensor> params(Manifest m, long seed) throws IOException {
    SplittableRandom rng = new SplittableRandom(seed);
    LoraParams p =
        LoraParams.init(
            m,
            m.lora().defaultRank(),
            (float) (m.lora().defaultAlpha() / m.lora().defaultRank()),
            rng);
    Map<String, Tensor> feeds = new LinkedHashMap<>(p.feeds());
    for (Manifest.LoraModule mod : m.lora().modules()) {
      String b = TensorNames.loraB(mod.name());
      Tensor t = feeds.get(b);
      float[] v = new float[t.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (0.2 * (rng.nextDouble() * 2 - 1));
      }
      feeds.put(b, Tensor.ofFloats(t.shape(), v));
    }
    return feeds;
  }

  /**
   * Directional finite differences: for each parameter tensor, a random unit direction d, and (L(p
   * + h d) - L(p - h d)) / 2h against the graph's gradient dotted with d.
   *
   * @param train the train graph
   * @param lossOnly the graph that computes the shifted losses: the train graph, or the same cut to
   *     its forward ({@link ModelGraphs#openLoss}), which does a third of the work
   * @param feeds batch and parameters
   * @param params the parameter names to check
   * @param h the step along the unit direction
   * @param seed the directions' stream
   * @return per parameter: the finite difference and the error |fd - g.d| / max(|fd|, |g.d|,
   *     floor), the floor being what float32 rounding of the loss alone can move the difference
   *     quotient by (100 ulp(L) / h, at least 1e-3)
   */
  public static List<Row> finiteDifferences(
      TrainGraph train,
      TrainGraph lossOnly,
      Map<String, Tensor> feeds,
      List<String> params,
      double h,
      long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<String> outs = new ArrayList<>(List.of(TensorNames.LOSS));
    params.forEach(p -> outs.add(TensorNames.grad(p)));
    Map<String, Tensor> grads = train.run(feeds, outs);
    float l0 = grads.get(TensorNames.LOSS).floats()[0];
    double floor = Math.max(1e-3, 100 * Math.ulp(l0) / h);
    List<Row> rows = new ArrayList<>();
    for (String p : params) {
      float[] g = grads.get(TensorNames.grad(p)).floats();
      double[] d = new double[g.length];
      double norm = 0;
      for (int i = 0; i < d.length; i++) {
        d[i] = g[i];
        norm += d[i] * d[i];
      }
      if (norm == 0) {
        for (int i = 0; i < d.length; i++) {
          d[i] = rng.nextDouble() * 2 - 1;
          norm += d[i] * d[i];
        }
      }
      norm = Math.sqrt(norm);
      double dot = 0;
      for (int i = 0; i < d.length; i++) {
        d[i] /= norm;
        dot += g[i] * d[i];
      }
      double fd = (loss(lossOnly, feeds, p, d, h) - loss(lossOnly, feeds, p, d, -h)) / (2 * h);
      double err = Math.abs(fd - dot) / Math.max(Math.max(Math.abs(fd), Math.abs(dot)), floor);
      rows.add(new Row(p, fd, err));
    }
    return rows;
  }

  private static double loss(
      TrainGraph train, Map<String, Tensor> feeds, String p, double[] d, double h) {
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    Tensor t = feeds.get(p).copy();
    float[] v = t.floats();
    for (int i = 0; i < v.length; i++) {
      v[i] += (float) (h * d[i]);
    }
    f.put(p, t);
    return train.run(f, List.of(TensorNames.LOSS)).get(TensorNames.LOSS).floats()[0];
  }

  /**
   * Runs two train graphs on the same feeds and compares the loss and every gradient.
   *
   * @param a the graph under test
   * @param b the reference
   * @param feeds batch and parameters
   * @param outputs loss and the gradients to compare
   * @return per output: the reference's largest |value| and the largest difference relative to it
   */
  public static List<Row> agreement(
      TrainGraph a, TrainGraph b, Map<String, Tensor> feeds, List<String> outputs) {
    Map<String, Tensor> x = a.run(feeds, outputs);
    Map<String, Tensor> y = b.run(feeds, outputs);
    List<Row> rows = new ArrayList<>();
    for (String o : outputs) {
      float[] u = x.get(o).floats();
      float[] v = y.get(o).floats();
      if (u.length != v.length) {
        throw new GraphException(
            o + ": " + u.length + " values in " + a.path() + ", " + v.length + " in " + b.path());
      }
      double max = 0;
      double ref = 0;
      for (int i = 0; i < u.length; i++) {
        max = Math.max(max, Math.abs((double) u[i] - v[i]));
        ref = Math.max(ref, Math.abs(v[i]));
      }
      rows.add(new Row(o, ref, max / (ref + 1e-30)));
    }
    return rows;
  }
}
