package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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

  @Test
  void anEditedStepOrDataPositionIsCaught() throws IOException {
    Path f = dir.resolve("checkpoint.safetensors");
    new Checkpoint(
            7,
            Map.of("a", Tensor.ofFloats(new long[] {2}, new float[] {1, 2})),
            Map.of(),
            Map.of(),
            Map.of(),
            new long[] {2, 48},
            "{}")
        .write(f);
    for (String[] edit :
        new String[][] {{"step", "1000"}, {"data_cursor", "-16"}, {"config", "{\"lr\":1}"}}) {
      Safetensors.Contents c = Safetensors.read(f);
      Map<String, String> meta = new LinkedHashMap<>(c.metadata());
      meta.put(edit[0], edit[1]);
      Path g = dir.resolve("edited.safetensors");
      Safetensors.write(g, c.tensors(), meta);
      assertThatThrownBy(() -> Checkpoint.read(g))
          .as(edit[0])
          .isInstanceOf(IOException.class)
          .hasMessageContaining("checksum mismatch");
    }
    // a checkpoint of the old format, whose checksum left these fields out, is not resumed
    Safetensors.Contents c = Safetensors.read(f);
    Map<String, String> meta = new LinkedHashMap<>(c.metadata());
    meta.remove("format");
    Path old = dir.resolve("old.safetensors");
    Safetensors.write(old, c.tensors(), meta);
    assertThatThrownBy(() -> Checkpoint.read(old)).hasMessageContaining("checkpoint format 1");
  }
}
