package dev.loraort.trainer.method;

import dev.loraort.artifacts.TensorNames;
import dev.loraort.linalg.FlatPerturbation;
import dev.loraort.trainer.params.Chunks;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

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
    return Math.sqrt(Chunks.sumOfSquares(names.stream().map(t::get).toList()));
  }

  /**
   * The norm of each group, from one parallel pass over all their tensors.
   *
   * @param t a tree
   * @param groups lists of its names
   * @return sqrt of the sum of squares per group
   */
  static double[] norms(ParamTree t, List<List<String>> groups) {
    List<float[]> arrays = groups.stream().flatMap(List::stream).map(t::get).toList();
    double[] each = Chunks.sumsOfSquares(arrays);
    double[] out = new double[groups.size()];
    int k = 0;
    for (int i = 0; i < groups.size(); i++) {
      double s = 0;
      for (int j = 0; j < groups.get(i).size(); j++) {
        s += each[k++];
      }
      out[i] = Math.sqrt(s);
    }
    return out;
  }

  /**
   * E_B per layer (docs/methods.md sections 3, 4, 8): rho / (s N) * D, with N per layer or global.
   * Works on r x r and n x r matrices only; no n x m matrix is formed.
   *
   * @param p the parameters (B as the gradients were taken at)
   * @param g the gradients
   * @param rho this step's radius
   * @param scope per-layer or global normalisation
   * @param scratch the caller's workspaces, kept from step to step
   * @return E_B by B's name (zero where the direction vanishes)
   */
  static Map<String, float[]> flatPerturbationOfB(
      LoraParams p, ParamTree g, double rho, MethodConfig.NormScope scope, Scratch scratch) {
    List<String> modules = p.modules();
    FlatPerturbation.Direction[] dirs = new FlatPerturbation.Direction[modules.size()];
    // layers are independent: one task each (OpenBLAS runs single-threaded per call)
    IntStream.range(0, modules.size())
        .parallel()
        .forEach(
            i -> {
              String a = TensorNames.loraA(modules.get(i));
              String b = TensorNames.loraB(modules.get(i));
              long[] as = p.tree().shape(a);
              long[] bs = p.tree().shape(b);
              FlatPerturbation.Workspace w =
                  scratch.byModule.computeIfAbsent(
                      modules.get(i),
                      k -> new FlatPerturbation.Workspace((int) bs[0], (int) as[1], (int) as[0]));
              dirs[i] =
                  w.direction(
                      p.tree().get(a),
                      p.tree().get(b),
                      g.get(a),
                      g.get(b),
                      p.scale(modules.get(i)));
            });
    double global = 0;
    for (FlatPerturbation.Direction d : dirs) {
      global += d.nSquared();
    }
    double globalN = Math.sqrt(global);
    float[][] eb = new float[dirs.length][];
    IntStream.range(0, dirs.length)
        .parallel()
        .forEach(
            i -> {
              double n =
                  scope == MethodConfig.NormScope.GLOBAL ? globalN : Math.sqrt(dirs[i].nSquared());
              double f = n > 0 ? rho / (p.scale(modules.get(i)) * n) : 0;
              eb[i] = dirs[i].d().toFloats(f);
            });
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int i = 0; i < modules.size(); i++) {
      out.put(TensorNames.loraB(modules.get(i)), eb[i]);
    }
    return out;
  }

  /** The per-layer workspaces of {@link #flatPerturbationOfB}, one set per method state. */
  static final class Scratch {
    private final Map<String, FlatPerturbation.Workspace> byModule = new ConcurrentHashMap<>();
  }

  /**
   * @param m tensors by name
   * @return the global Frobenius norm
   */
  static double norm(Map<String, float[]> m) {
    return Math.sqrt(Chunks.sumOfSquares(List.copyOf(m.values())));
  }

  /**
   * Adds each tensor to the parameter of the same name, saving the old values in {@code saved}.
   *
   * @param p the parameters
   * @param delta what to add
   * @param saved receives copies of the replaced values
   */
  static void apply(LoraParams p, Map<String, float[]> delta, Map<String, float[]> saved) {
    List<String> names = List.copyOf(delta.keySet());
    List<float[]> w = names.stream().map(p.tree()::get).toList();
    List<float[]> copies = w.stream().map(x -> new float[x.length]).toList();
    Chunks.forEach(
        Chunks.lengths(w),
        (k, from, to) -> {
          float[] x = w.get(k);
          float[] d = delta.get(names.get(k));
          System.arraycopy(x, from, copies.get(k), from, to - from);
          for (int i = from; i < to; i++) {
            x[i] += d[i];
          }
        });
    for (int k = 0; k < names.size(); k++) {
      saved.put(names.get(k), copies.get(k));
    }
  }

  /**
   * Restores saved values bit for bit (never by subtracting) and clears {@code saved}.
   *
   * @param p the parameters
   * @param saved copies from {@link #apply}
   */
  static void restore(LoraParams p, Map<String, float[]> saved) {
    List<String> names = List.copyOf(saved.keySet());
    List<float[]> from = names.stream().map(saved::get).toList();
    List<float[]> into = names.stream().map(p.tree()::get).toList();
    Chunks.forEach(
        Chunks.lengths(from), (k, a, b) -> System.arraycopy(from.get(k), a, into.get(k), a, b - a));
    saved.clear();
  }
}
