package dev.loraort.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The low-rank route against the naive one: explicit n x m matrices and pseudo-inverses from a
 * one-sided Jacobi SVD (singular values at or below 1e-3 of the largest count as zero, the same
 * cutoff as the Gram eigenvalues' 1e-6).
 */
class FlatPerturbationTest {
  static final double S = 2.0;
  static final double RHO = 0.05;

  @Test
  void randomFullRank() {
    check(rand(12, 4, 1), rand(4, 9, 2), rand(4, 9, 3), rand(12, 4, 4), 1e-10);
  }

  @Test
  void zeroB() {
    Matrix b = Matrix.zeros(12, 4);
    Matrix a = rand(4, 9, 2);
    Matrix gb = rand(12, 4, 4);
    Matrix ga = Matrix.zeros(4, 9); // g_A = s B^T G = 0 when B = 0
    check(b, a, ga, gb, 1e-10);
    FlatPerturbation.Direction d = FlatPerturbation.direction(a, b, ga, gb, S);
    assertThat(d.nSquared()).isPositive();
    for (double x : d.d().values()) {
      assertThat(Double.isFinite(x)).isTrue();
    }
  }

  @Test
  void rankDeficientB() {
    Matrix b = rand(12, 4, 1);
    for (int i = 0; i < 12; i++) { // column 3 = column 1: rank 3
      b.set(i, 3, b.get(i, 1));
    }
    check(b, rand(4, 9, 2), rand(4, 9, 3), rand(12, 4, 4), 1e-9);
  }

  @Test
  void rankDeficientA() {
    Matrix a = rand(4, 9, 2);
    for (int j = 0; j < 9; j++) { // row 2 = 2 * row 0: rank 3
      a.set(2, j, 2 * a.get(0, j));
    }
    check(rand(12, 4, 1), a, rand(4, 9, 3), rand(12, 4, 4), 1e-9);
  }

  @Test
  void illConditionedA() {
    Matrix a = rand(4, 9, 2);
    for (int j = 0; j < 9; j++) { // rows scaled over two decades: cond(A) ~ 1e2, above the cutoff
      for (int i = 0; i < 4; i++) {
        a.set(i, j, a.get(i, j) * Math.pow(10, -2.0 * i / 3));
      }
    }
    check(rand(12, 4, 1), a, rand(4, 9, 3), rand(12, 4, 4), 1e-8);
  }

  @Test
  void consistentGradientsGiveTheProjectedGradient() {
    // g_A = s B^T G, g_B = s G A^T: then 2 G_bar = G P_A + P_B G (docs/methods.md section 3)
    int n = 10;
    int m = 7;
    int r = 3;
    Matrix b = rand(n, r, 5);
    Matrix a = rand(r, m, 6);
    Matrix g = rand(n, m, 7);
    Matrix ga = Matrix.zeros(r, m);
    Blas.gemm(true, false, S, b, g, 0, ga);
    Matrix gb = Matrix.zeros(n, r);
    Blas.gemm(false, true, S, g, a, 0, gb);
    Matrix pa = Matrix.zeros(m, m);
    Blas.gemm(false, false, 1, pinv(a), a, 0, pa);
    Matrix pb = Matrix.zeros(n, n);
    Blas.gemm(false, false, 1, b, pinv(b), 0, pb);
    Matrix twoGbar = Matrix.zeros(n, m);
    Blas.gemm(false, false, 1, g, pa, 0, twoGbar);
    Blas.gemm(false, false, 1, pb, g, 1, twoGbar);
    FlatPerturbation.Direction d = FlatPerturbation.direction(a, b, ga, gb, S);
    assertThat(d.nSquared())
        .isCloseTo(twoGbar.frobeniusSquared(), within(1e-9 * twoGbar.frobeniusSquared()));
  }

  /** Compares N and E_B with the naive route. */
  static void check(Matrix b, Matrix a, Matrix ga, Matrix gb, double tol) {
    int n = b.rows();
    int m = a.cols();
    Matrix gbar = Matrix.zeros(n, m); // G_bar = 1/2 [(1/s) g_B (A^T)^+ + (1/s) (B^T)^+ g_A]
    Blas.gemm(false, false, 0.5 / S, gb, pinv(transpose(a)), 0, gbar);
    Blas.gemm(false, false, 0.5 / S, pinv(transpose(b)), ga, 1, gbar);
    double norm = Math.sqrt(gbar.frobeniusSquared());
    Matrix eb = Matrix.zeros(n, a.rows()); // E_B = (1/s) (rho / ||G_bar||) G_bar A^+
    Blas.gemm(false, false, RHO / (S * norm), gbar, pinv(a), 0, eb);
    FlatPerturbation.Direction d = FlatPerturbation.direction(a, b, ga, gb, S);
    assertThat(Math.sqrt(d.nSquared()) / 2).isCloseTo(norm, within(tol * norm));
    double f = RHO / (S * Math.sqrt(d.nSquared()));
    double[] expected = eb.values();
    double[] actual = d.d().values();
    double scale = 0;
    for (double x : expected) {
      scale = Math.max(scale, Math.abs(x));
    }
    for (int i = 0; i < expected.length; i++) {
      assertThat(f * actual[i]).isCloseTo(expected[i], within(tol * scale));
    }
    // the perturbation applied, s E_B A, stays within the rho-ball (docs/methods.md section 3)
    Matrix applied = Matrix.zeros(n, m);
    Blas.gemm(false, false, S * f, d.d(), a, 0, applied);
    assertThat(Math.sqrt(applied.frobeniusSquared())).isLessThanOrEqualTo(RHO * (1 + 1e-9));
  }

  static Matrix rand(int rows, int cols, long seed) {
    SplittableRandom g = new SplittableRandom(seed);
    double[] d = new double[rows * cols];
    for (int i = 0; i < d.length; i++) {
      d[i] = g.nextDouble(-1, 1);
    }
    return Matrix.of(rows, cols, d);
  }

  static Matrix transpose(Matrix x) {
    Matrix t = Matrix.zeros(x.cols(), x.rows());
    for (int i = 0; i < x.rows(); i++) {
      for (int j = 0; j < x.cols(); j++) {
        t.set(j, i, x.get(i, j));
      }
    }
    return t;
  }

  /** Pseudo-inverse by one-sided Jacobi SVD (Hestenes), independent of the Gram route. */
  static Matrix pinv(Matrix x) {
    boolean wide = x.rows() < x.cols();
    Matrix w = wide ? transpose(x) : x; // p x q, p >= q
    int p = w.rows();
    int q = w.cols();
    double[] u = w.values();
    double[] v = new double[q * q];
    for (int i = 0; i < q; i++) {
      v[i * q + i] = 1;
    }
    for (int sweep = 0; sweep < 60; sweep++) {
      double off = 0;
      for (int i = 0; i < q; i++) {
        for (int j = i + 1; j < q; j++) {
          double alpha = 0;
          double beta = 0;
          double gamma = 0;
          for (int k = 0; k < p; k++) {
            alpha += u[k * q + i] * u[k * q + i];
            beta += u[k * q + j] * u[k * q + j];
            gamma += u[k * q + i] * u[k * q + j];
          }
          if (Math.abs(gamma) <= 1e-300) {
            continue;
          }
          off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta + 1e-300));
          double zeta = (beta - alpha) / (2 * gamma);
          double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
          if (zeta == 0) {
            t = 1;
          }
          double c = 1 / Math.sqrt(1 + t * t);
          double s = c * t;
          for (int k = 0; k < p; k++) {
            double a1 = u[k * q + i];
            double a2 = u[k * q + j];
            u[k * q + i] = c * a1 - s * a2;
            u[k * q + j] = s * a1 + c * a2;
          }
          for (int k = 0; k < q; k++) {
            double a1 = v[k * q + i];
            double a2 = v[k * q + j];
            v[k * q + i] = c * a1 - s * a2;
            v[k * q + j] = s * a1 + c * a2;
          }
        }
      }
      if (off < 1e-15) {
        break;
      }
    }
    double[] sigma = new double[q];
    double smax = 0;
    for (int j = 0; j < q; j++) {
      double ss = 0;
      for (int k = 0; k < p; k++) {
        ss += u[k * q + j] * u[k * q + j];
      }
      sigma[j] = Math.sqrt(ss);
      smax = Math.max(smax, sigma[j]);
    }
    // pinv(w) = V diag(1/sigma) U^T, with U's columns = u's columns / sigma
    double[] pw = new double[q * p];
    for (int j = 0; j < q; j++) {
      if (!(sigma[j] > 1e-3 * smax)) {
        continue;
      }
      double inv2 = 1 / (sigma[j] * sigma[j]);
      for (int a = 0; a < q; a++) {
        for (int k = 0; k < p; k++) {
          pw[a * p + k] += v[a * q + j] * u[k * q + j] * inv2;
        }
      }
    }
    return wide ? transpose(Matrix.of(q, p, pw)) : Matrix.of(q, p, pw);
  }
}
