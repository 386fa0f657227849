package dev.loraort.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MatrixTest {
  @Test
  void valuesAreRowMajorCopies() {
    Matrix m = Matrix.of(2, 3, new double[] {1, 2, 3, 4, 5, 6});
    assertThat(m.get(1, 0)).isEqualTo(4);
    double[] copy = m.values();
    copy[0] = 9;
    assertThat(m.get(0, 0)).isEqualTo(1);
    m.set(0, 2, -3);
    assertThat(m.values()).containsExactly(1, 2, -3, 4, 5, 6);
  }

  @Test
  void floatsAreWidenedInAndScaledOut() {
    Matrix m = Matrix.ofFloats(1, 3, new float[] {0.1f, -2f, 3f});
    assertThat(m.get(0, 0)).isEqualTo((double) 0.1f);
    assertThat(m.toFloats(0.5)).containsExactly((float) (0.5 * 0.1f), -1f, 1.5f);
    assertThat(m.frobeniusSquared()).isEqualTo(0.1f * (double) 0.1f + 4 + 9);
  }

  @Test
  void gemmWritesTheProductInPlace() {
    Matrix a = Matrix.of(2, 3, new double[] {1, 2, 3, 4, 5, 6});
    Matrix out = Matrix.of(2, 2, new double[] {1, 1, 1, 1});
    Blas.gemm(false, true, 2, a, a, 1, out); // 2 A A^T + out
    assertThat(out.values()).containsExactly(29, 65, 65, 155);
  }

  @Test
  void wrongShapesAndIndicesNameWhatIsWrong() {
    assertThatThrownBy(() -> Matrix.of(2, 2, new double[3]))
        .hasMessageContaining("a 2 x 2 matrix needs 4 values, got 3");
    assertThatThrownBy(() -> Matrix.zeros(2, 2).get(2, 0))
        .hasMessageContaining("(2, 0) in a 2 x 2 matrix");
    assertThatThrownBy(
            () ->
                Blas.gemm(
                    false, false, 1, Matrix.zeros(2, 3), Matrix.zeros(2, 3), 0, Matrix.zeros(2, 3)))
        .hasMessageContaining("inner dims 3 and 2 differ");
  }
}
