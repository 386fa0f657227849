package dev.loraort.linalg;

/**
 * A row-major dense matrix of doubles. The host-side math works on r x r and n x r matrices only,
 * so it runs in double at no measurable cost: the Gram matrices square condition numbers, and
 * float32 would lose what the pseudo-inverse cutoff must see.
 */
public final class Matrix {
  private final int rows;
  private final int cols;
  private final double[] data;

  private Matrix(int rows, int cols, double[] data) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("a " + rows + " x " + cols + " matrix");
    }
    requireValues(rows, cols, data.length);
    this.rows = rows;
    this.cols = cols;
    this.data = data;
  }

  /**
   * @param rows rows
   * @param cols columns
   * @return a zero matrix
   */
  public static Matrix zeros(int rows, int cols) {
    return new Matrix(rows, cols, new double[rows * cols]);
  }

  /**
   * @param rows rows
   * @param cols columns
   * @param data row-major values (not copied)
   * @return the matrix over {@code data}
   */
  public static Matrix of(int rows, int cols, double[] data) {
    return new Matrix(rows, cols, data);
  }

  /**
   * @param rows rows
   * @param cols columns
   * @param data row-major float32 values (copied to double)
   * @return the matrix
   */
  public static Matrix ofFloats(int rows, int cols, float[] data) {
    double[] d = new double[data.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = data[i];
    }
    return new Matrix(rows, cols, d);
  }

  /**
   * Overwrites the values with float32 ones, widened: a matrix reused as scratch.
   *
   * @param values row-major, as many as the matrix holds
   */
  public void setFloats(float[] values) {
    requireValues(rows, cols, values.length);
    for (int i = 0; i < data.length; i++) {
      data[i] = values[i];
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
   * @return the row-major values (shared)
   */
  public double[] data() {
    return data;
  }

  /**
   * @param i row
   * @param j column
   * @return the entry
   */
  public double get(int i, int j) {
    return data[i * cols + j];
  }

  /**
   * @return the values rounded to float32
   */
  public float[] toFloats() {
    float[] f = new float[data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) data[i];
    }
    return f;
  }

  /**
   * @return the squared Frobenius norm
   */
  public double frobeniusSquared() {
    double s = 0;
    for (double x : data) {
      s += x * x;
    }
    return s;
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
    for (int i = 0; i < data.length; i++) {
      s += data[i] * other.data[i];
    }
    return s;
  }

  /**
   * this += alpha * other.
   *
   * @param alpha factor
   * @param other same shape
   */
  public void addScaled(double alpha, Matrix other) {
    requireShape(other, rows, cols, "addScaled");
    for (int i = 0; i < data.length; i++) {
      data[i] += alpha * other.data[i];
    }
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
