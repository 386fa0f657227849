package dev.loraort.trainer.params;

import dev.loraort.artifacts.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ordered map of named float32 arrays with fixed shapes: parameters, gradients, optimizer
 * moments and updates all use it. Names and shapes never change; values are mutable in place.
 * Elementwise operations run over {@link Chunks} in parallel, with results independent of the
 * thread count.
 */
public final class ParamTree {
  private final Map<String, float[]> values;
  private final Map<String, long[]> shapes;

  private ParamTree(Map<String, float[]> values, Map<String, long[]> shapes) {
    this.values = values;
    this.shapes = shapes;
  }

  /**
   * A tree over the given tensors' arrays (shared, not copied).
   *
   * @param tensors float32 tensors in order
   * @return the tree
   */
  public static ParamTree of(Map<String, Tensor> tensors) {
    Map<String, float[]> v = new LinkedHashMap<>();
    Map<String, long[]> s = new LinkedHashMap<>();
    tensors.forEach(
        (k, t) -> {
          v.put(k, t.floats());
          s.put(k, t.shape());
        });
    return new ParamTree(v, Collections.unmodifiableMap(s));
  }

  /**
   * @return a tree of zeros with the same names and shapes
   */
  public ParamTree zerosLike() {
    Map<String, float[]> v = new LinkedHashMap<>();
    values.forEach((k, a) -> v.put(k, new float[a.length]));
    return new ParamTree(v, shapes);
  }

  /**
   * @return a deep copy
   */
  public ParamTree copy() {
    Map<String, float[]> v = new LinkedHashMap<>();
    values.forEach((k, a) -> v.put(k, a.clone()));
    return new ParamTree(v, shapes);
  }

  /**
   * Copies every value of {@code other} (same names and shapes) into this tree.
   *
   * @param other the source
   */
  public void setFrom(ParamTree other) {
    values.forEach((k, a) -> System.arraycopy(other.get(k), 0, a, 0, a.length));
  }

  /**
   * @return names in order
   */
  public List<String> names() {
    return List.copyOf(values.keySet());
  }

  /**
   * @param name a name of this tree
   * @return its array (shared)
   * @throws IllegalArgumentException for an unknown name
   */
  public float[] get(String name) {
    float[] a = values.get(name);
    if (a == null) {
      throw new IllegalArgumentException(
          "no tensor " + name + " in this tree; it has " + values.keySet());
    }
    return a;
  }

  /**
   * @param name a name of this tree
   * @return a copy of its shape
   */
  public long[] shape(String name) {
    get(name);
    return shapes.get(name).clone();
  }

  /**
   * @param name a name of this tree
   * @return the value as a tensor sharing the array
   */
  public Tensor tensor(String name) {
    return Tensor.ofFloats(shapes.get(name), get(name));
  }

  /**
   * @return all values as tensors sharing the arrays, in order
   */
  public Map<String, Tensor> tensors() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    for (String k : values.keySet()) {
      m.put(k, tensor(k));
    }
    return m;
  }

  /**
   * @return the arrays in order (shared)
   */
  public List<float[]> arrays() {
    return List.copyOf(values.values());
  }

  /**
   * @return "NAME[i] = v" for the first value that is NaN or infinite, or null if all are finite
   */
  public String firstNonFinite() {
    for (Map.Entry<String, float[]> e : values.entrySet()) {
      float[] v = e.getValue();
      for (int i = 0; i < v.length; i++) {
        if (!Float.isFinite(v[i])) {
          return e.getKey() + "[" + i + "] = " + v[i];
        }
      }
    }
    return null;
  }

  /**
   * @return sqrt of the sum of squares over every tensor, accumulated in double
   */
  public double globalNorm() {
    return Math.sqrt(Chunks.sumOfSquares(arrays()));
  }

  /**
   * this += alpha * other, elementwise, in float32 arithmetic.
   *
   * @param alpha the factor
   * @param other a tree with the same names and shapes
   */
  public void addScaled(double alpha, ParamTree other) {
    List<float[]> a = arrays();
    List<float[]> b = values.keySet().stream().map(other::get).toList();
    float f = (float) alpha;
    Chunks.forEach(
        Chunks.lengths(a),
        (k, from, to) -> {
          float[] x = a.get(k);
          float[] y = b.get(k);
          for (int i = from; i < to; i++) {
            x[i] += f * y[i];
          }
        });
  }

  /**
   * this *= alpha, elementwise, in float32 arithmetic.
   *
   * @param alpha the factor
   */
  public void scale(double alpha) {
    List<float[]> a = arrays();
    float f = (float) alpha;
    Chunks.forEach(
        Chunks.lengths(a),
        (k, from, to) -> {
          float[] x = a.get(k);
          for (int i = from; i < to; i++) {
            x[i] *= f;
          }
        });
  }
}
