package dev.loraort.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ClassificationMetricsTest {
  @Test
  void binaryByHand() {
    // tp = 3, fn = 1, fp = 2, tn = 4
    int[] y = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    int[] p = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
    ClassificationMetrics m = ClassificationMetrics.of(y, p, 2);
    assertThat(m.accuracy()).isCloseTo(0.7, within(1e-12));
    assertThat(m.f1()).isCloseTo(2.0 * 3 / (2 * 3 + 2 + 1), within(1e-12));
    assertThat(m.mcc()).isCloseTo((3.0 * 4 - 2 * 1) / Math.sqrt(5.0 * 4 * 6 * 5), within(1e-12));
    assertThat(m.confusion()[1][0]).isEqualTo(1);
  }

  @Test
  void perfectConstantAndMulticlass() {
    assertThat(ClassificationMetrics.of(new int[] {0, 1, 2}, new int[] {0, 1, 2}, 3).mcc())
        .isCloseTo(1, within(1e-12));
    ClassificationMetrics constant =
        ClassificationMetrics.of(new int[] {0, 1, 1}, new int[] {1, 1, 1}, 2);
    assertThat(constant.mcc()).isZero(); // undefined: one predicted class
    assertThat(constant.accuracy()).isCloseTo(2.0 / 3, within(1e-12));
    ClassificationMetrics three =
        ClassificationMetrics.of(new int[] {0, 1, 2, 2}, new int[] {0, 2, 2, 1}, 3);
    // per-class F1: 1, 0, 0.5 -> macro 0.5
    assertThat(three.f1()).isCloseTo(0.5, within(1e-12));
    assertThatThrownBy(() -> ClassificationMetrics.of(new int[] {3}, new int[] {0}, 3))
        .hasMessageContaining("outside");
  }

  @Test
  void macroF1AveragesEveryClassBinaryIncluded() {
    // the binary case above: class 1 F1 = 6/9; class 0: tp 4, predicted 5, actual 6 -> 8/11
    int[] y = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    int[] p = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
    assertThat(ClassificationMetrics.of(y, p, 2).macroF1())
        .isCloseTo((6.0 / 9 + 8.0 / 11) / 2, within(1e-12));
    // a constant predictor: class 1 F1 = 4/5, class 0 never predicted -> 0; macro 0.4, not 0.8
    ClassificationMetrics constant =
        ClassificationMetrics.of(new int[] {0, 1, 1}, new int[] {1, 1, 1}, 2);
    assertThat(constant.f1()).isCloseTo(0.8, within(1e-12));
    assertThat(constant.macroF1()).isCloseTo(0.4, within(1e-12));
    // three classes: per-class F1 1, 0, 0.5, as f1() gives
    assertThat(
            ClassificationMetrics.of(new int[] {0, 1, 2, 2}, new int[] {0, 2, 2, 1}, 3).macroF1())
        .isCloseTo(0.5, within(1e-12));
    // a fourth class that is neither true nor predicted is left out (scikit-learn's macro), where
    // f1() counts it as 0: 1.5 / 4
    ClassificationMetrics four =
        ClassificationMetrics.of(new int[] {0, 1, 2, 2}, new int[] {0, 2, 2, 1}, 4);
    assertThat(four.macroF1()).isCloseTo(0.5, within(1e-12));
    assertThat(four.f1()).isCloseTo(0.375, within(1e-12));
  }
}
