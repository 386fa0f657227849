package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LossSpikesTest {
  @Test
  void aLossFarAboveTheRecentMedianStopsTheRun() {
    LossSpikes g = new LossSpikes(3);
    // the early fall does not count: fewer than 10 steps of history
    assertThat(g.check(50)).isNull();
    for (int i = 0; i < 12; i++) {
      assertThat(g.check(1.0 + 0.01 * (i % 3))).isNull();
    }
    assertThat(g.check(2.9)).isNull(); // below 3x the median (1.01)
    assertThat(g.check(3.5))
        .contains("loss 3.50000 is 3.5x the median 1.01000 of the 14 steps before");
  }

  @Test
  void offByDefaultAndFactorsAtOrBelowOneAreRefused() {
    LossSpikes off = new LossSpikes(0);
    for (int i = 0; i < 30; i++) {
      assertThat(off.check(i == 29 ? 1e9 : 1)).isNull();
    }
    assertThatThrownBy(() -> new LossSpikes(1)).hasMessageContaining("a factor > 1");
  }
}
