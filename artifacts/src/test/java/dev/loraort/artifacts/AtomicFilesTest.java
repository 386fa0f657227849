package dev.loraort.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir Path dir;

  @Test
  void aFailedWriteNamesTheFileAndKeepsThePreviousOne() throws IOException {
    Path f = dir.resolve("adapter.onnx");
    Files.writeString(f, "previous");
    assertThatThrownBy(
            () ->
                AtomicFiles.write(
                    f,
                    out -> {
                      out.write(new byte[100]);
                      throw new IOException("No space left on device"); // what a full disk says
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(f + ": writing failed (No space left on device)");
    assertThat(Files.readString(f)).isEqualTo("previous");
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(f); // no temporary file left
    }
  }

  @Test
  void staleTemporariesOfAKilledWriteAreRemoved() throws IOException {
    Files.writeString(dir.resolve(".adapter.onnx.123.tmp"), "partial");
    Files.writeString(dir.resolve("keep.tmp"), "not ours");
    AtomicFiles.removeStaleTemporaries(dir);
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("keep.tmp");
    }
  }
}
