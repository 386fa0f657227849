package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ProcessMemoryTest {
  @Test
  void thePeakFollowsMemoryTouchedAfterAReset() {
    assumeTrue(ProcessMemory.peakBytes().isPresent(), "no /proc/self/status here");
    assumeTrue(ProcessMemory.resetPeak(), "the peak cannot be reset here");
    long before = ProcessMemory.peakBytes().getAsLong();
    ByteBuffer touched = ByteBuffer.allocateDirect(64 << 20);
    for (int i = 0; i < touched.capacity(); i += 4096) {
      touched.put(i, (byte) 1);
    }
    long after = ProcessMemory.peakBytes().getAsLong();
    assertThat(after - before).isGreaterThanOrEqualTo(60L << 20);
    assertThat(touched.get(0)).isEqualTo((byte) 1);
  }
}
