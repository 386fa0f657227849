package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Float16Test {
  @Test
  void everyKindOfBinary16ValueWidensExactly() {
    assertThat(Float16.toFloat((short) 0x3c00)).isEqualTo(1f);
    assertThat(Float16.toFloat((short) 0xc000)).isEqualTo(-2f);
    assertThat(Float16.toFloat((short) 0x3555)).isEqualTo(0.33325195f);
    assertThat(Float16.toFloat((short) 0x7bff)).isEqualTo(65504f); // the largest
    assertThat(Float16.toFloat((short) 0x0400)).isEqualTo(0x1p-14f); // the smallest normal
    assertThat(Float16.toFloat((short) 0x0001)).isEqualTo(0x1p-24f); // the smallest subnormal
    assertThat(Float16.toFloat((short) 0x8000)).isEqualTo(-0f);
    assertThat(Float16.toFloat((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(Float16.toFloat((short) 0x7e00)).isNaN();
  }
}
