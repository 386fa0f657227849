package dev.loraort.trainer.method;

import dev.loraort.artifacts.TensorNames;
import dev.loraort.linalg.FlatPerturbation;
import dev.loraort.linalg.Matrix;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Shared pieces of the perturbation methods: norm groups and the FMLoRA/EFlat perturbation of B.
 */
final class Perturbations {
  private Perturbations() {}

  /**
   * The LoRA tensors grouped by norm scope: one group per layer (A and B), or one group of all.
   *
   * @param p the parameters
   * @param scope per-layer or global
   * @return name groups
   */
  static List<List<String>> groups(LoraParams p, MethodConfig.NormScope scope) {
    List<List<String>> out = new ArrayList<>();
    if (scope == MethodConfig.NormScope.GLOBAL) {
      out.add(
          p.modules().stream()
              .flatMap(m -> java.util.stream.Stream.of(TensorNames.loraA(m), TensorNames.loraB(m)))
              .toList());
    } else {
      for (String m : p.modules()) {
        out.add(List.of(TensorNames.loraA(m), TensorNames.loraB(m)));
      }
    }
    return out;
  }

  /**
   * @param t a tree
   * @param names some of its names
   * @return sqrt of the sum of squares over those tensors
   */
  static double norm(ParamTree t, List<String> names) {
    double s = 0;
    for (String n : names) {
      for (float x : t.get(n)) {
        s += (double) x * x;
      }
    }
    return Math.sqrt(s);
  }

  /**
   * E_B per layer (methods.md sections 3, 4 and 8): rho / (s N) * D, with N per layer or global.
   * Works on r x r and n x r matrices only; no n x m matrix is formed.
   *
   * @param p the parameters (B as the gradients were taken at)
   * @param g the gradients
   * @param rho this step's radius
   * @param scope per-layer or global normalisation
   * @return E_B by B's name (zero where the direction vanishes)
   */
  static Map<String, float[]> flatPerturbationOfB(
      LoraParams p, ParamTree g, double rho, MethodConfig.NormScope scope) {
    Map<String, FlatPerturbation.Direction> dirs = new LinkedHashMap<>();
    double global = 0;
    for (String m : p.modules()) {
      String a = TensorNames.loraA(m);
      String b = TensorNames.loraB(m);
      long[] as = p.tree().shape(a);
      long[] bs = p.tree().shape(b);
      int r = (int) as[0];
      FlatPerturbation.Direction d =
          FlatPerturbation.direction(
              Matrix.ofFloats(r, (int) as[1], p.tree().get(a)),
              Matrix.ofFloats((int) bs[0], r, p.tree().get(b)),
              Matrix.ofFloats(r, (int) as[1], g.get(a)),
              Matrix.ofFloats((int) bs[0], r, g.get(b)),
              p.scale());
      dirs.put(b, d);
      global += d.nSquared();
    }
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, FlatPerturbation.Direction> e : dirs.entrySet()) {
      double n =
          Math.sqrt(scope == MethodConfig.NormScope.GLOBAL ? global : e.getValue().nSquared());
      double f = n > 0 ? rho / (p.scale() * n) : 0;
      double[] d = e.getValue().d().data();
      float[] eb = new float[d.length];
      for (int i = 0; i < d.length; i++) {
        eb[i] = (float) (f * d[i]);
      }
      out.put(e.getKey(), eb);
    }
    return out;
  }

  /**
   * @param m tensors by name
   * @return the global Frobenius norm
   */
  static double norm(Map<String, float[]> m) {
    double s = 0;
    for (float[] a : m.values()) {
      for (float x : a) {
        s += (double) x * x;
      }
    }
    return Math.sqrt(s);
  }

  /**
   * Adds each tensor to the parameter of the same name, saving the old values in {@code saved}.
   *
   * @param p the parameters
   * @param delta what to add
   * @param saved receives copies of the replaced values
   */
  static void apply(LoraParams p, Map<String, float[]> delta, Map<String, float[]> saved) {
    for (Map.Entry<String, float[]> e : delta.entrySet()) {
      float[] w = p.tree().get(e.getKey());
      saved.put(e.getKey(), w.clone());
      float[] d = e.getValue();
      for (int i = 0; i < w.length; i++) {
        w[i] += d[i];
      }
    }
  }

  /**
   * Restores saved values bit for bit (never by subtracting) and clears {@code saved}.
   *
   * @param p the parameters
   * @param saved copies from {@link #apply}
   */
  static void restore(LoraParams p, Map<String, float[]> saved) {
    saved.forEach((n, w) -> System.arraycopy(w, 0, p.tree().get(n), 0, w.length));
    saved.clear();
  }
}
