package dev.loraort.linalg;

/**
 * The FMLoRA / EFlat-LoRA quantities of one adapted layer with no n x m matrix (docs/methods.md
 * section 8).
 *
 * <p>With W = W0 + s B A, the LoRA gradients g_A = s B^T G and g_B = s G A^T give the full-space
 * estimate G_bar = 1/2 [ (1/s) g_B (A^T)^+ + (1/s) (B^T)^+ g_A ]. With K_A = A A^T and K_B = B^T B
 * (r x r): (A^T)^+ = K_A^+ A, A^+ = A^T K_A^+ and (B^T)^+ = B K_B^+, so with U = (1/s) g_B K_A^+, V
 * = (1/s) K_B^+ g_A and Y = V A^T:
 *
 * <pre>
 *   2 G_bar = U A + B V
 *   N^2 = ||2 G_bar||_F^2 = &lt;U^T U, K_A&gt; + &lt;K_B, V V^T&gt; + 2 &lt;B^T U, Y&gt;
 *   G_bar A^+ = 1/2 (U + B Y K_A^+)
 *   E_B = (1/s) (rho / ||G_bar||) G_bar A^+ = rho / (s N) * D,   D = U + B Y K_A^+
 * </pre>
 *
 * Cost O((n + m) r^2). Departure (docs/methods.md section 8): r x r pseudo-inverses come from an
 * eigendecomposition with a relative cutoff ({@link #CUTOFF}) rather than a jittered Cholesky
 * solve; this is exact pinv semantics for rank-deficient A or B, and makes the earlier B = 0 guard
 * (V = 0 when lambda_min(K_B) &lt; 1e-6 lambda_max(K_B)) the special case K_B^+ = 0 instead of an
 * all-or-nothing switch.
 */
public final class FlatPerturbation {
  /**
   * Gram eigenvalues at or below this fraction of the largest count as zero (singular values:
   * 1e-3).
   */
  public static final double CUTOFF = 1e-6;

  /**
   * The direction and norm of one layer.
   *
   * @param d D = U + B Y K_A^+, n x r: E_B = rho / (s N) * D
   * @param nSquared N^2 = ||U A + B V||_F^2 = 4 ||G_bar||_F^2
   */
  public record Direction(Matrix d, double nSquared) {}

  private FlatPerturbation() {}

  /**
   * @param a A, r x m
   * @param b B, n x r (EFlat: the perturbed B~ the gradients were taken at)
   * @param gradA dL/dA, r x m
   * @param gradB dL/dB, n x r
   * @param s the LoRA scale
   * @return D and N^2
   */
  public static Direction direction(Matrix a, Matrix b, Matrix gradA, Matrix gradB, double s) {
    return new Workspace(a, b, gradA, gradB).direction(s);
  }

  /**
   * One layer's inputs and intermediates, kept for the next step: the methods compute this for
   * every adapted layer on every step, and allocating its n x r and r x m matrices each time cost
   * more than the arithmetic (roberta-large's 48 layers on one thread of the 2-core development
   * machine: 12.4 ms a step with fresh matrices, 5.1 ms with kept ones, the same results;
   * BENCHMARKS.md, "host math without per-step allocation"). Kept matrices also keep their direct
   * buffers.
   */
  public static final class Workspace {
    private final Matrix a;
    private final Matrix b;
    private final Matrix gradA;
    private final Matrix gradB;
    private final Matrix ka;
    private final Matrix kb;
    private final Matrix kaPinv;
    private final Matrix kbPinv;
    private final Matrix u;
    private final Matrix v;
    private final Matrix y;
    private final Matrix utu;
    private final Matrix vvt;
    private final Matrix btu;
    private final Matrix yka;

    /**
     * @param n B's rows (the layer's outputs)
     * @param m A's columns (its inputs)
     * @param r the rank
     */
    public Workspace(int n, int m, int r) {
      this(Matrix.zeros(r, m), Matrix.zeros(n, r), Matrix.zeros(r, m), Matrix.zeros(n, r));
    }

    private Workspace(Matrix a, Matrix b, Matrix gradA, Matrix gradB) {
      int r = a.rows();
      int m = a.cols();
      int n = b.rows();
      Matrix.requireShape(b, n, r, "B");
      Matrix.requireShape(gradA, r, m, "grad A");
      Matrix.requireShape(gradB, n, r, "grad B");
      this.a = a;
      this.b = b;
      this.gradA = gradA;
      this.gradB = gradB;
      this.ka = Matrix.zeros(r, r);
      this.kb = Matrix.zeros(r, r);
      this.kaPinv = Matrix.zeros(r, r);
      this.kbPinv = Matrix.zeros(r, r);
      this.u = Matrix.zeros(n, r);
      this.v = Matrix.zeros(r, m);
      this.y = Matrix.zeros(r, r);
      this.utu = Matrix.zeros(r, r);
      this.vvt = Matrix.zeros(r, r);
      this.btu = Matrix.zeros(r, r);
      this.yka = Matrix.zeros(r, r);
    }

    /**
     * D and N^2 of a layer given in float32.
     *
     * @param a A, r x m
     * @param b B, n x r (EFlat: the perturbed B~ the gradients were taken at)
     * @param gradA dL/dA, r x m
     * @param gradB dL/dB, n x r
     * @param s the LoRA scale
     * @return D (this workspace's storage: valid until its next call) and N^2
     */
    public Direction direction(float[] a, float[] b, float[] gradA, float[] gradB, double s) {
      this.a.setFloats(a);
      this.b.setFloats(b);
      this.gradA.setFloats(gradA);
      this.gradB.setFloats(gradB);
      return direction(s);
    }

    private Direction direction(double s) {
      Blas.gemm(false, true, 1, a, a, 0, ka); // K_A = A A^T
      Blas.gemm(true, false, 1, b, b, 0, kb); // K_B = B^T B
      Blas.pinvSymmetric(ka, CUTOFF, kaPinv);
      Blas.pinvSymmetric(kb, CUTOFF, kbPinv);
      Blas.gemm(false, false, 1 / s, gradB, kaPinv, 0, u); // U = (1/s) g_B K_A^+
      Blas.gemm(false, false, 1 / s, kbPinv, gradA, 0, v); // V = (1/s) K_B^+ g_A
      Blas.gemm(false, true, 1, v, a, 0, y); // Y = V A^T
      Blas.gemm(true, false, 1, u, u, 0, utu);
      Blas.gemm(false, true, 1, v, v, 0, vvt);
      Blas.gemm(true, false, 1, b, u, 0, btu);
      double n2 = utu.dot(ka) + kb.dot(vvt) + 2 * btu.dot(y);
      Blas.gemm(false, false, 1, y, kaPinv, 0, yka);
      Matrix d = u; // D = U + B (Y K_A^+), accumulated into U's storage
      Blas.gemm(false, false, 1, b, yka, 1, d);
      return new Direction(d, Math.max(0, n2));
    }
  }
}
