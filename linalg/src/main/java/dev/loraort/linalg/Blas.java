package dev.loraort.linalg;

import java.nio.DoubleBuffer;
import org.bytedeco.openblas.global.openblas;

/**
 * The two OpenBLAS/LAPACK kernels the methods need, with explicit outputs so allocation is visible.
 * OpenBLAS runs single-threaded here: the matrices are r x r and n x r, too small for threads to
 * pay, and one thread keeps results bit-reproducible.
 */
public final class Blas {
  private static final int ROW_MAJOR = openblas.CblasRowMajor;

  static {
    openblas.blas_set_num_threads(1);
  }

  private Blas() {}

  /**
   * out = alpha * op(a) * op(b) + beta * out, op = transpose when asked (cblas_dgemm).
   *
   * @param transA use a^T
   * @param transB use b^T
   * @param alpha factor of the product
   * @param a left matrix
   * @param b right matrix
   * @param beta factor of out's old value
   * @param out the result, overwritten in place
   * @throws IllegalArgumentException if the shapes do not chain
   */
  public static void gemm(
      boolean transA, boolean transB, double alpha, Matrix a, Matrix b, double beta, Matrix out) {
    int m = transA ? a.cols() : a.rows();
    int k = transA ? a.rows() : a.cols();
    int kb = transB ? b.cols() : b.rows();
    int n = transB ? b.rows() : b.cols();
    if (k != kb) {
      throw new IllegalArgumentException("gemm: inner dims " + k + " and " + kb + " differ");
    }
    Matrix.requireShape(out, m, n, "gemm output");
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0) {
      scale(out, beta);
      return;
    }
    openblas.cblas_dgemm(
        ROW_MAJOR,
        transA ? openblas.CblasTrans : openblas.CblasNoTrans,
        transB ? openblas.CblasTrans : openblas.CblasNoTrans,
        m,
        n,
        k,
        alpha,
        a.buffer(),
        a.cols(),
        b.buffer(),
        b.cols(),
        beta,
        out.buffer(),
        out.cols());
  }

  /**
   * The pseudo-inverse of a symmetric positive semi-definite matrix (a Gram matrix) through its
   * eigendecomposition (LAPACKE_dsyev): eigenvalues at or below {@code relCutoff * lambda_max}
   * count as zero, so a zero or rank-deficient Gram matrix gets the pseudo-inverse's semantics.
   *
   * @param k the r x r matrix (read only)
   * @param relCutoff relative eigenvalue cutoff
   * @param out K^+, r x r, overwritten
   * @throws IllegalStateException if LAPACK fails
   */
  public static void pinvSymmetric(Matrix k, double relCutoff, Matrix out) {
    int r = k.rows();
    Matrix.requireShape(k, r, r, "pinvSymmetric");
    Matrix.requireShape(out, r, r, "pinvSymmetric output");
    double[] q = k.values(); // r x r: JavaCPP's copy of an array this small costs nothing
    double[] w = new double[r];
    if (r > 0) {
      int info = openblas.LAPACKE_dsyev(ROW_MAJOR, (byte) 'V', (byte) 'U', r, q, r, w);
      if (info != 0) {
        throw new IllegalStateException(
            "LAPACKE_dsyev failed with info " + info + " on a " + r + " x " + r + " matrix");
      }
    }
    double max = 0;
    for (double x : w) {
      max = Math.max(max, x);
    }
    double[] inverse = new double[r * r];
    for (int e = 0; e < r; e++) {
      if (!(w[e] > relCutoff * max) || w[e] <= 0) {
        continue;
      }
      double inv = 1 / w[e];
      for (int i = 0; i < r; i++) {
        double qi = q[i * r + e] * inv;
        for (int j = 0; j < r; j++) {
          inverse[i * r + j] += qi * q[j * r + e];
        }
      }
    }
    out.buffer().put(0, inverse);
  }

  private static void scale(Matrix m, double beta) {
    DoubleBuffer d = m.buffer();
    for (int i = 0; i < m.rows() * m.cols(); i++) {
      d.put(i, beta == 0 ? 0 : d.get(i) * beta);
    }
  }
}
