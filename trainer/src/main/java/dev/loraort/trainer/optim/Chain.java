package dev.loraort.trainer.optim;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.ParamTree;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Threads updates through transformations in order; its state is the list of their states. */
public final class Chain implements GradientTransformation<List<Object>> {
  private final List<GradientTransformation<Object>> parts;

  private Chain(List<GradientTransformation<Object>> parts) {
    this.parts = List.copyOf(parts);
  }

  /**
   * @param parts transformations, applied first to last
   * @return the chain
   */
  @SuppressWarnings("unchecked")
  public static Chain of(GradientTransformation<?>... parts) {
    List<GradientTransformation<Object>> l = new ArrayList<>();
    for (GradientTransformation<?> p : parts) {
      l.add((GradientTransformation<Object>) p);
    }
    return new Chain(l);
  }

  @Override
  public List<Object> init(ParamTree params) {
    List<Object> s = new ArrayList<>();
    for (GradientTransformation<Object> p : parts) {
      s.add(p.init(params));
    }
    return List.copyOf(s);
  }

  /**
   * The chain's state as tensors, for checkpoints: per transformation i, its step count as {@code
   * <i>.count} (int64 []) and Adam's moments as {@code <i>.mu.<name>}, {@code <i>.nu.<name>}.
   *
   * @param state a state of this chain
   * @return the tensors (sharing the moment arrays)
   */
  public Map<String, Tensor> save(List<Object> state) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < state.size(); i++) {
      Object s = state.get(i);
      if (s instanceof ScaleByAdam.State a) {
        out.put(i + ".count", Tensor.ofLongs(new long[0], new long[] {a.count()}));
        String at = i + ".";
        a.mu().tensors().forEach((k, v) -> out.put(at + "mu." + k, v));
        a.nu().tensors().forEach((k, v) -> out.put(at + "nu." + k, v));
      } else if (s instanceof ScaleByLearningRate.State l) {
        out.put(i + ".count", Tensor.ofLongs(new long[0], new long[] {l.count()}));
      }
    }
    return out;
  }

  /**
   * A state of this chain from {@link #save}'s tensors.
   *
   * @param fresh a state from {@link #init} for the same parameters (gives names and shapes)
   * @param tensors the saved tensors
   * @return the restored state
   * @throws IllegalArgumentException if a tensor is missing or has another size
   */
  public List<Object> load(List<Object> fresh, Map<String, Tensor> tensors) {
    List<Object> out = new ArrayList<>();
    for (int i = 0; i < fresh.size(); i++) {
      Object s = fresh.get(i);
      if (s instanceof ScaleByAdam.State a) {
        copy(tensors, i + ".mu.", a.mu());
        copy(tensors, i + ".nu.", a.nu());
        out.add(new ScaleByAdam.State(count(tensors, i), a.mu(), a.nu()));
      } else if (s instanceof ScaleByLearningRate.State) {
        out.add(new ScaleByLearningRate.State(count(tensors, i)));
      } else {
        out.add(s);
      }
    }
    return List.copyOf(out);
  }

  private static long count(Map<String, Tensor> t, int i) {
    Tensor c = t.get(i + ".count");
    if (c == null) {
      throw new IllegalArgumentException("optimizer state: no " + i + ".count");
    }
    return c.longs()[0];
  }

  private static void copy(Map<String, Tensor> t, String prefix, ParamTree into) {
    for (String n : into.names()) {
      Tensor v = t.get(prefix + n);
      if (v == null || v.size() != into.get(n).length) {
        throw new IllegalArgumentException(
            "optimizer state: "
                + prefix
                + n
                + (v == null
                    ? " is missing"
                    : " has " + v.size() + " values, expected " + into.get(n).length));
      }
      System.arraycopy(v.floats(), 0, into.get(n), 0, v.size());
    }
  }

  @Override
  public List<Object> update(ParamTree updates, List<Object> state, ParamTree params) {
    if (state.size() != parts.size()) {
      throw new IllegalArgumentException(
          "chain of " + parts.size() + " transformations got " + state.size() + " states");
    }
    List<Object> next = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      next.add(parts.get(i).update(updates, state.get(i), params));
    }
    return List.copyOf(next);
  }
}
