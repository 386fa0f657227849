package dev.loraort.artifacts.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxFileTest {
  @TempDir Path dir;

  @Test
  void initializerFileRoundTrips() throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    t.put("m.lora_A.weight", Tensor.ofFloats(new long[] {2, 2}, new float[] {1, 2, 3, 4}));
    t.put(
        "m.lora_B.weight", Tensor.ofFloats(new long[] {3, 2}, new float[] {0, 0, 0, 0, 0, -1.5f}));
    Path f = dir.resolve("adapter.onnx");
    OnnxFile.writeInitializers(f, t, Map.of("rank", "2", "method", "lora"), "test");
    OnnxFile.Contents c = OnnxFile.read(f);
    assertThat(c.initializers().keySet()).containsExactly("m.lora_A.weight", "m.lora_B.weight");
    assertThat(c.initializers().get("m.lora_B.weight").shape()).containsExactly(3, 2);
    assertThat(c.initializers().get("m.lora_B.weight").floats())
        .containsExactly(0, 0, 0, 0, 0, -1.5f);
    assertThat(c.metadata()).containsEntry("rank", "2").containsEntry("method", "lora");
    assertThat(c.nodes()).isEmpty();
  }

  @Test
  void readsExportedGraphs() throws IOException {
    OnnxFile.Contents c = OnnxFile.read(Path.of("../onnx-models/tiny-roberta-cls/infer.onnx"));
    assertThat(c.nodes()).isNotEmpty();
    // the exporter names base-weight initializers after the Hugging Face tensor they hold
    assertThat(c.initializers()).containsKey("roberta.embeddings.word_embeddings.weight");
    assertThat(c.initializers().get("roberta.embeddings.word_embeddings.weight").shape())
        .containsExactly(1000, 64);
  }

  @Test
  void truncatedFileFailsWithItsName() throws IOException {
    Path f = dir.resolve("cut.onnx");
    byte[] b = Files.readAllBytes(Path.of("../onnx-models/tiny-roberta-cls/infer.onnx"));
    Files.write(f, Arrays.copyOf(b, b.length / 2));
    assertThatThrownBy(() -> OnnxFile.read(f))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(f.toString());
  }
}
