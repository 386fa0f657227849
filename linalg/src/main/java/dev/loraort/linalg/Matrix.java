package dev.loraort.linalg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;

/**
 * A row-major dense matrix of doubles. The host-side math works on r x r and n x r matrices only,
 * so it runs in double at no measurable cost: the Gram matrices square condition numbers, and
 * float32 would lose what the pseudo-inverse cutoff must see.
 *
 * <p>The values live in a direct buffer, which OpenBLAS reads and writes in place: JavaCPP copies a
 * {@code double[]} argument into native memory and back on every call, about a quarter of the
 * methods' host time at roberta-large's size (scripts/bench/FlatPerturbationProbe.java). The buffer
 * is freed with the matrix by the garbage collector, as any direct buffer.
 */
public final class Matrix {
  private final int rows;
  private final int cols;
  private final DoubleBuffer values;

  private Matrix(int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("a " + rows + " x " + cols + " matrix");
    }
    this.rows = rows;
    this.cols = cols;
    this.values =
        ByteBuffer.allocateDirect(Math.multiplyExact(Math.multiplyExact(rows, cols), Double.BYTES))
            .order(ByteOrder.nativeOrder())
            .asDoubleBuffer();
  }

  /**
   * @param rows rows
   * @param cols columns
   * @return a zero matrix
   */
  public static Matrix zeros(int rows, int cols) {
    return new Matrix(rows, cols);
  }

  /**
   * @param rows rows
   * @param cols columns
   * @param values row-major values (copied)
   * @return the matrix
   */
  public static Matrix of(int rows, int cols, double[] values) {
    Matrix m = new Matrix(rows, cols);
    requireValues(rows, cols, values.length);
    m.values.put(0, values);
    return m;
  }

  /**
   * @param rows rows
   * @param cols columns
   * @param values row-major float32 values (widened to double)
   * @return the matrix
   */
  public static Matrix ofFloats(int rows, int cols, float[] values) {
    Matrix m = new Matrix(rows, cols);
    m.setFloats(values);
    return m;
  }

  /**
   * Overwrites the values with float32 ones, widened: a matrix reused as scratch.
   *
   * @param floats row-major, as many as the matrix holds
   */
  public void setFloats(float[] floats) {
    requireValues(rows, cols, floats.length);
    for (int i = 0; i < floats.length; i++) {
      values.put(i, floats[i]);
    }
  }

  /**
   * @return rows
   */
  public int rows() {
    return rows;
  }

  /**
   * @return columns
   */
  public int cols() {
    return cols;
  }

  /**
   * @param i row
   * @param j column
   * @return the entry
   */
  public double get(int i, int j) {
    return values.get(index(i, j));
  }

  /**
   * @param i row
   * @param j column
   * @param value the new entry
   */
  public void set(int i, int j, double value) {
    values.put(index(i, j), value);
  }

  /**
   * @return the row-major values (a copy)
   */
  public double[] values() {
    double[] out = new double[rows * cols];
    values.get(0, out);
    return out;
  }

  /**
   * @param scale the factor
   * @return scale times the values, row-major, rounded to float32
   */
  public float[] toFloats(double scale) {
    float[] out = new float[rows * cols];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) (scale * values.get(i));
    }
    return out;
  }

  /**
   * @return the squared Frobenius norm
   */
  public double frobeniusSquared() {
    return dot(this);
  }

  /**
   * The Frobenius inner product sum_ij this_ij * other_ij.
   *
   * @param other a matrix of the same shape
   * @return the inner product
   */
  public double dot(Matrix other) {
    requireShape(other, rows, cols, "dot");
    double s = 0;
    for (int i = 0; i < rows * cols; i++) {
      s += values.get(i) * other.values.get(i);
    }
    return s;
  }

  /** The storage OpenBLAS works on, row-major. */
  DoubleBuffer buffer() {
    return values;
  }

  private int index(int i, int j) {
    if (i < 0 || i >= rows || j < 0 || j >= cols) {
      throw new IndexOutOfBoundsException(
          "(" + i + ", " + j + ") in a " + rows + " x " + cols + " matrix");
    }
    return i * cols + j;
  }

  private static void requireValues(int rows, int cols, int n) {
    if (n != rows * cols) {
      throw new IllegalArgumentException(
          "a " + rows + " x " + cols + " matrix needs " + rows * cols + " values, got " + n);
    }
  }

  static void requireShape(Matrix m, int rows, int cols, String what) {
    if (m.rows != rows || m.cols != cols) {
      throw new IllegalArgumentException(
          what + ": expected " + rows + " x " + cols + ", got " + m.rows + " x " + m.cols);
    }
  }
}
