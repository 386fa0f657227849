package dev.loraort.artifacts;

import java.util.Arrays;

/**
 * A host tensor: dtype, shape and a row-major Java array that it owns.
 *
 * <p>Immutable in shape and dtype; the array is shared, not copied, so callers that keep a tensor
 * across steps copy it with {@link #copy()}.
 */
public final class Tensor {
  /** Element types used by the contract; names are the safetensors ones. */
  public enum DType {
    F32(4, 1, "float32"),
    I64(8, 7, "int64"),
    I32(4, 6, "int32");

    /** Bytes per element. */
    public final int size;

    /** The ONNX TensorProto.DataType code. */
    public final int onnxCode;

    /** The name manifest.json gives it (docs/formats.md section 1). */
    public final String manifestName;

    DType(int size, int onnxCode, String manifestName) {
      this.size = size;
      this.onnxCode = onnxCode;
      this.manifestName = manifestName;
    }

    /**
     * Looks a dtype up by the name manifest.json gives it.
     *
     * @param name float32, int64 or int32
     * @return the dtype
     * @throws IllegalArgumentException for other names
     */
    public static DType ofManifest(String name) {
      for (DType d : values()) {
        if (d.manifestName.equals(name)) {
          return d;
        }
      }
      throw new IllegalArgumentException(
          "dtype '" + name + "' is not one of float32, int64, int32");
    }

    /**
     * Looks a dtype up by its ONNX code.
     *
     * @param code ONNX TensorProto.DataType
     * @return the dtype
     * @throws IllegalArgumentException for codes the contract does not use
     */
    public static DType ofOnnx(int code) {
      for (DType d : values()) {
        if (d.onnxCode == code) {
          return d;
        }
      }
      throw new IllegalArgumentException(
          "unsupported ONNX data type " + code + "; expected FLOAT(1), INT64(7) or INT32(6)");
    }
  }

  private final DType dtype;
  private final long[] shape;
  private final Object data;

  private Tensor(DType dtype, long[] shape, Object data, int length) {
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data;
    long n = numel(shape);
    if (n != length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " holds " + n + " elements, data has " + length);
    }
  }

  /**
   * A float32 tensor over {@code data} (not copied).
   *
   * @param shape the shape
   * @param data row-major values
   * @return the tensor
   */
  public static Tensor ofFloats(long[] shape, float[] data) {
    return new Tensor(DType.F32, shape, data, data.length);
  }

  /**
   * An int64 tensor over {@code data} (not copied).
   *
   * @param shape the shape
   * @param data row-major values
   * @return the tensor
   */
  public static Tensor ofLongs(long[] shape, long[] data) {
    return new Tensor(DType.I64, shape, data, data.length);
  }

  /**
   * An int32 tensor over {@code data} (not copied).
   *
   * @param shape the shape
   * @param data row-major values
   * @return the tensor
   */
  public static Tensor ofInts(long[] shape, int[] data) {
    return new Tensor(DType.I32, shape, data, data.length);
  }

  /**
   * A float32 scalar (shape []).
   *
   * @param v the value
   * @return the tensor
   */
  public static Tensor scalar(float v) {
    return ofFloats(new long[0], new float[] {v});
  }

  /**
   * Number of elements of a shape.
   *
   * @param shape the shape
   * @return the product of its dims (1 for a scalar)
   */
  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dim in shape " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /**
   * @return the dtype
   */
  public DType dtype() {
    return dtype;
  }

  /**
   * @return a copy of the shape
   */
  public long[] shape() {
    return shape.clone();
  }

  /**
   * @return the number of elements
   */
  public int size() {
    return (int) numel(shape);
  }

  /**
   * The float32 data (shared, not copied).
   *
   * @return the array
   * @throws IllegalStateException if the tensor is not float32
   */
  public float[] floats() {
    requireType(DType.F32);
    return (float[]) data;
  }

  /**
   * The int64 data (shared, not copied).
   *
   * @return the array
   * @throws IllegalStateException if the tensor is not int64
   */
  public long[] longs() {
    requireType(DType.I64);
    return (long[]) data;
  }

  /**
   * The int32 data (shared, not copied).
   *
   * @return the array
   * @throws IllegalStateException if the tensor is not int32
   */
  public int[] ints() {
    requireType(DType.I32);
    return (int[]) data;
  }

  /**
   * @return a deep copy
   */
  public Tensor copy() {
    switch (dtype) {
      case F32:
        return ofFloats(shape, floats().clone());
      case I64:
        return ofLongs(shape, longs().clone());
      default:
        return ofInts(shape, ints().clone());
    }
  }

  /**
   * How far this float32 tensor is from a reference, on the reference's scale: the largest absolute
   * difference over the largest absolute reference value (the measure the exporter's checks, the
   * fixtures and the conformance reports all use).
   *
   * @param reference a float32 tensor of the same size
   * @return max |this - reference| / max |reference| (a tiny floor keeps all-zero references
   *     finite)
   * @throws IllegalArgumentException if the sizes differ
   */
  public double maxErrorOfMax(Tensor reference) {
    float[] a = floats();
    float[] b = reference.floats();
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "compared tensors differ in size: " + this + " vs " + reference);
    }
    double err = 0;
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs((double) a[i] - b[i]));
      max = Math.max(max, Math.abs(b[i]));
    }
    return err / Math.max(max, 1e-30);
  }

  private void requireType(DType want) {
    if (dtype != want) {
      throw new IllegalStateException(
          "tensor is " + dtype + " " + Arrays.toString(shape) + ", not " + want);
    }
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
