package dev.loraort.trainer.optim;

import dev.loraort.trainer.params.ParamTree;
import java.util.ArrayList;
import java.util.List;

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

  @Override
  public List<Object> update(ParamTree updates, List<Object> state, ParamTree params) {
    if (state.size() != parts.size()) {
      throw new IllegalArgumentException("chain of " + parts.size() + " transformations got " + state.size() + " states");
    }
    List<Object> next = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      next.add(parts.get(i).update(updates, state.get(i), params));
    }
    return List.copyOf(next);
  }
}
