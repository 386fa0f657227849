package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path dir;

  @Test
  void everyGroupComesBackUnderItsOwnNames() throws IOException {
    Path f = dir.resolve("checkpoint.safetensors");
    new Checkpoint(
            7,
            Map.of("a", Tensor.ofFloats(new long[] {2}, new float[] {1, 2})),
            Map.of("mu.a", Tensor.ofFloats(new long[] {2}, new float[] {3, 4})),
            Map.of("ema.a", Tensor.scalar(5)),
            Map.of("scale", Tensor.scalar(32768), "good_runs", Tensor.scalar(11)),
            new long[] {2, 48},
            "{}")
        .write(f);
    Checkpoint c = Checkpoint.read(f);
    assertThat(c.step()).isEqualTo(7);
    assertThat(c.params().get("a").floats()).containsExactly(1, 2);
    assertThat(c.optimizer().get("mu.a").floats()).containsExactly(3, 4);
    assertThat(c.method().keySet()).containsExactly("ema.a");
    assertThat(c.lossScaler().keySet()).containsExactlyInAnyOrder("scale", "good_runs");
    assertThat(c.lossScaler().get("scale").floats()).containsExactly(32768);
    assertThat(c.dataPosition()).containsExactly(2, 48);
  }
}
