package dev.loraort.artifacts.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path dir;

  private static Map<String, Tensor> sample() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put(
        "a.lora_A.weight",
        Tensor.ofFloats(new long[] {2, 3}, new float[] {1, -2, 3.5f, Float.MIN_VALUE, 0, -0f}));
    m.put("ids", Tensor.ofLongs(new long[] {3}, new long[] {Long.MIN_VALUE, 0, 42}));
    m.put("seg", Tensor.ofInts(new long[] {2}, new int[] {7, -1}));
    m.put("scale", Tensor.scalar(2f));
    return m;
  }

  @Test
  void roundTripsEveryDtypeAndMetadata() throws IOException {
    Path f = dir.resolve("x.safetensors");
    Safetensors.write(f, sample(), Map.of("format", "pt"));
    Safetensors.Contents c = Safetensors.read(f);
    assertThat(c.tensors().keySet()).containsExactly("a.lora_A.weight", "ids", "seg", "scale");
    assertThat(c.tensors().get("a.lora_A.weight").floats())
        .containsExactly(1, -2, 3.5f, Float.MIN_VALUE, 0, -0f);
    assertThat(c.tensors().get("ids").longs()).containsExactly(Long.MIN_VALUE, 0, 42);
    assertThat(c.tensors().get("seg").ints()).containsExactly(7, -1);
    assertThat(c.tensors().get("scale").shape()).isEmpty();
    assertThat(c.metadata()).containsEntry("format", "pt");
    // the data starts on an 8-byte boundary, as the reference writer does
    long headerLen =
        ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(headerLen % 8).isZero();
  }

  @Test
  void truncatedFileNamesFileAndTensor() throws IOException {
    Path f = dir.resolve("t.safetensors");
    Safetensors.write(f, sample(), Map.of());
    byte[] b = Files.readAllBytes(f);
    Files.write(f, Arrays.copyOf(b, b.length - 2)); // only the last tensor, scale, is cut
    assertThatThrownBy(() -> Safetensors.read(f))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(f.toString())
        .hasMessageContaining("scale")
        .hasMessageContaining("truncated");
  }

  @Test
  void rejectsHeaderLengthBeyondFileOrCap() throws IOException {
    Path f = dir.resolve("h.safetensors");
    ByteBuffer b =
        ByteBuffer.allocate(16)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putLong(Safetensors.MAX_HEADER_BYTES + 1);
    Files.write(f, b.array());
    assertThatThrownBy(() -> Safetensors.read(f)).hasMessageContaining("header length");
    Files.write(f, new byte[3]);
    assertThatThrownBy(() -> Safetensors.read(f)).hasMessageContaining("not a safetensors file");
  }

  @Test
  void rejectsOverlapsWrongLengthsAndUnknownDtypes() throws IOException {
    assertThatThrownBy(
            () ->
                Safetensors.read(
                    raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        12)))
        .hasMessageContaining("overlap");
    assertThatThrownBy(
            () ->
                Safetensors.read(
                    raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)))
        .hasMessageContaining("tensor a")
        .hasMessageContaining("needs 12");
    assertThatThrownBy(
            () ->
                Safetensors.read(
                    raw("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4)))
        .hasMessageContaining("tensor a has dtype BF16");
    assertThatThrownBy(
            () ->
                Safetensors.read(
                    raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)))
        .hasMessageContaining("negative");
    assertThatThrownBy(() -> Safetensors.read(raw("[1,2]", 0)))
        .hasMessageContaining("not a JSON object");
  }

  @Test
  void failedWriteKeepsTheExistingFile() throws IOException {
    Path f = dir.resolve("keep.safetensors");
    Safetensors.write(f, sample(), Map.of());
    byte[] before = Files.readAllBytes(f);
    Map<String, Tensor> bad = new LinkedHashMap<>(sample());
    bad.put("broken", null);
    assertThatThrownBy(() -> Safetensors.write(f, bad, Map.of()))
        .isInstanceOf(NullPointerException.class);
    assertThat(Files.readAllBytes(f)).isEqualTo(before);
    try (var s = Files.list(dir)) {
      assertThat(s).containsExactly(f);
    }
  }

  private Path raw(String header, int dataBytes) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Path f = Files.createTempFile(dir, "raw", ".safetensors");
    Files.write(f, b.array());
    return f;
  }
}
