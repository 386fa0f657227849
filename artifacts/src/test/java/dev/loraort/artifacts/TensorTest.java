package dev.loraort.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TensorTest {
  @Test
  void maxErrorIsOnTheReferenceScale() {
    Tensor ref = Tensor.ofFloats(new long[] {3}, new float[] {1, -4, 0.5f});
    Tensor got = Tensor.ofFloats(new long[] {3}, new float[] {1, -2, 0.5f});
    assertThat(got.maxErrorOfMax(ref)).isEqualTo(0.5); // |(-2) - (-4)| / 4
    assertThat(ref.maxErrorOfMax(ref)).isZero();
    assertThatThrownBy(() -> got.maxErrorOfMax(Tensor.ofFloats(new long[] {1}, new float[] {1})))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("differ in size");
  }
}
