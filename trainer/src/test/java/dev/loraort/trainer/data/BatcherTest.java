package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatcherTest {
  @TempDir Path dir;

  @Test
  void padsToTheLongestAndReshufflesEachEpochDeterministically() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    Path f = dir.resolve("d.jsonl");
    Files.writeString(
        f, "{\"input_ids\": [5, 6, 7]}\n{\"input_ids\": [8]}\n\n{\"input_ids\": [9, 10]}\n");
    List<JsonlDataset.Example> data = JsonlDataset.read(f, m);
    assertThat(data).hasSize(3);
    Batcher b = new Batcher(data, m, 3, 42);
    Map<String, Tensor> batch = b.next();
    assertThat(batch.get("input_ids").shape()).containsExactly(3, 3);
    assertThat(batch.get("attention_mask").longs()).containsOnly(0L, 1L);
    long ones = 0;
    for (long x : batch.get("attention_mask").longs()) {
      ones += x;
    }
    assertThat(ones).isEqualTo(6); // 3 + 1 + 2 real tokens
    long[] labels = batch.get("labels").longs();
    long[] ids = batch.get("input_ids").longs();
    long[] mask = batch.get("attention_mask").longs();
    for (int i = 0; i < labels.length; i++) {
      assertThat(labels[i])
          .isEqualTo(mask[i] == 1 ? ids[i] : -100); // causal LM labels default to input_ids
    }
    List<Long> order1 = firsts(new Batcher(data, m, 1, 42), 9);
    List<Long> order2 = firsts(new Batcher(data, m, 1, 42), 9);
    assertThat(order1).isEqualTo(order2);
    assertThat(order1.subList(0, 3)).containsExactlyInAnyOrder(5L, 8L, 9L);
    assertThat(order1.subList(3, 6)).containsExactlyInAnyOrder(5L, 8L, 9L);
  }

  @Test
  void padsUpToAMultipleWithinThePositions() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    Path f = dir.resolve("d.jsonl");
    Files.writeString(f, "{\"input_ids\": [5, 6, 7, 8, 9]}\n{\"input_ids\": [8]}\n");
    List<JsonlDataset.Example> data = JsonlDataset.read(f, m);
    Map<String, Tensor> batch = new Batcher(data, m, 2, 0, 4).next();
    for (String name : List.of("input_ids", "attention_mask", "labels")) {
      assertThat(batch.get(name).shape()).as(name).containsExactly(2, 8);
    }
    long ones = 0;
    for (long x : batch.get("attention_mask").longs()) {
      ones += x;
    }
    assertThat(ones).isEqualTo(6); // the padding is masked out
    assertThat(java.util.Arrays.stream(batch.get("labels").longs()).filter(x -> x == -100))
        .hasSize(10);
    // a multiple past the 128 positions of tiny GPT-2 stops at them
    assertThat(new Batcher(data, m, 2, 0, 1000).next().get("input_ids").shape())
        .containsExactly(2, 128);
    assertThat(new Batcher(data, m, 2, 0, 1).next().get("input_ids").shape()).containsExactly(2, 5);
    assertThatThrownBy(() -> new Batcher(data, m, 2, 0, 0))
        .hasMessageContaining("--pad-to-multiple-of must be >= 1, got 0");
  }

  @Test
  void aDirectoryGivenAsDataIsNamed() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    assertThatThrownBy(() -> Examples.load(dir, m, null))
        .isInstanceOf(IOException.class)
        .hasMessage(
            dir + " is a directory; the data is one file: JSONL, CSV/TSV/text, or IDX images");
  }

  @Test
  void badLinesNameFileLineAndField() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    Path f = dir.resolve("bad.jsonl");
    Files.writeString(f, "{\"input_ids\": [0, 5, 2], \"labels\": 1}\n{\"input_ids\": [0, 5, 2]}\n");
    assertThatThrownBy(() -> JsonlDataset.read(f, m))
        .hasMessageContaining(f + ":2: missing field labels");
    Files.writeString(f, "{\"input_ids\": [0, 5.5, 2], \"labels\": 1}\n");
    assertThatThrownBy(() -> JsonlDataset.read(f, m))
        .hasMessageContaining(f + ":1: field input_ids must hold integers");
    Files.writeString(f, "{\"input_ids\": [0, 5, 2], \"labels\": [1, 2]}\n");
    assertThatThrownBy(() -> JsonlDataset.read(f, m))
        .hasMessageContaining("field labels has 2 values");
    Files.writeString(f, "{\"input_ids\": [0, 5, 2]}\n"); // a Qwen2-VL line needs its images
    assertThatThrownBy(
            () -> JsonlDataset.read(f, Manifest.read(Path.of("../onnx-models/tiny-qwen2vl"))))
        .hasMessageContaining(f + ":1: missing field image_grid_thw");
  }

  private static List<Long> firsts(Batcher b, int n) {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(b.next().get("input_ids").longs()[0]);
    }
    return out;
  }
}
