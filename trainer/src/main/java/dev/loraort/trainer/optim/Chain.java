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
   * The chain's state as tensors, for checkpoints: transformation i's tensors under {@code <i>.}
   * (e.g. {@code 1.count}, {@code 1.mu.<name>} for Adam).
   *
   * @param state a state of this chain
   * @return the tensors (sharing the moment arrays)
   */
  @Override
  public Map<String, Tensor> save(List<Object> state) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < parts.size(); i++) {
      String at = i + ".";
      parts.get(i).save(state.get(i)).forEach((k, v) -> out.put(at + k, v));
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
  @Override
  public List<Object> load(List<Object> fresh, Map<String, Tensor> tensors) {
    List<Object> out = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      String at = i + ".";
      Map<String, Tensor> mine = new LinkedHashMap<>();
      tensors.forEach(
          (k, v) -> {
            if (k.startsWith(at)) {
              mine.put(k.substring(at.length()), v);
            }
          });
      out.add(parts.get(i).load(fresh.get(i), mine));
    }
    return List.copyOf(out);
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
