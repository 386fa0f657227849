package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Qwen2VlInputsTest {
  private static final Path MODEL = Path.of("../onnx-models/tiny-qwen2vl");

  @TempDir Path dir;

  /**
   * The exporter's fixture batch was made by transformers (get_rope_index and friends) from three
   * examples with one 1 x 4 x 4 image each: written back as JSONL lines (tokens, patches, grid; no
   * labels, mask or positions), reading and batching them gives that batch exactly.
   */
  @Test
  void rebuildsTheExportersFixtureBatchFromJsonlLines() throws IOException {
    Manifest m = Manifest.read(MODEL);
    Map<String, Tensor> want =
        Safetensors.read(MODEL.resolve("fixture/batch.safetensors")).tensors();
    int batch = (int) want.get("input_ids").shape()[0];
    int seq = (int) want.get("input_ids").shape()[1];
    int[] cu = want.get("cu_seqlens").ints();
    long row = want.get("pixel_values").shape()[1];
    List<String> lines = new ArrayList<>();
    for (int b = 0; b < batch; b++) {
      JsonObject o = new JsonObject();
      JsonArray ids = new JsonArray();
      for (int i = 0; i < seq; i++) {
        if (want.get("attention_mask").longs()[b * seq + i] == 1) {
          ids.add(want.get("input_ids").longs()[b * seq + i]);
        }
      }
      o.add("input_ids", ids);
      JsonArray px = new JsonArray();
      for (long i = cu[b] * row; i < cu[b + 1] * row; i++) {
        px.add(want.get("pixel_values").floats()[(int) i]);
      }
      o.add("pixel_values", px);
      assertThat(cu[b + 1] - cu[b]).isEqualTo(16); // the exporter's grid: (1, 4, 4)
      JsonArray grid = new JsonArray();
      List.of(1, 4, 4).forEach(grid::add);
      o.add("image_grid_thw", grid);
      lines.add(o.toString());
    }
    Path f = dir.resolve("vl.jsonl");
    Files.write(f, lines);

    Map<String, Tensor> got = Batcher.inOrder(JsonlDataset.read(f, m), m, batch).next();

    assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(want.keySet());
    for (String name : want.keySet()) {
      Tensor w = want.get(name);
      Tensor g = got.get(name);
      assertThat(g.shape()).as(name).containsExactly(w.shape());
      assertThat(g.dtype()).as(name).isEqualTo(w.dtype());
      switch (w.dtype()) {
        case F32 -> assertThat(g.floats()).as(name).containsExactly(w.floats());
        case I64 -> assertThat(g.longs()).as(name).containsExactly(w.longs());
        default -> assertThat(g.ints()).as(name).containsExactly(w.ints());
      }
    }
  }

  @Test
  void rejectsImageTokensThatDoNotMatchTheGrid() throws IOException {
    Manifest m = Manifest.read(MODEL);
    long image = Qwen2VlInputs.of(m).imageToken();
    Path f = dir.resolve("bad.jsonl");
    StringBuilder px = new StringBuilder();
    for (int i = 0; i < 16 * 96; i++) {
      px.append(i == 0 ? "" : ",").append("0.5");
    }
    // a 1 x 4 x 4 grid takes 4 image tokens after merging 2 x 2; this line has 3
    Files.writeString(
        f,
        "{\"input_ids\": [5, "
            + image
            + ", "
            + image
            + ", "
            + image
            + ", 7], \"pixel_values\": ["
            + px
            + "], \"image_grid_thw\": [1, 4, 4]}\n");
    assertThatThrownBy(() -> JsonlDataset.read(f, m))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("bad.jsonl:1")
        .hasMessageContaining("3 image tokens")
        .hasMessageContaining("need 4");
  }

  @Test
  void rejectsAnImageWhoseTokensAreSplit() throws IOException {
    Manifest m = Manifest.read(MODEL);
    long image = Qwen2VlInputs.of(m).imageToken();
    Path f = dir.resolve("split.jsonl");
    String px = String.join(",", java.util.Collections.nCopies(16 * 96, "0.5"));
    String ids = "[5, " + image + ", " + image + ", 6, " + image + ", " + image + ", 7]";
    Files.writeString(
        f,
        "{\"input_ids\": "
            + ids
            + ", \"pixel_values\": ["
            + px
            + "], \"image_grid_thw\": [1, 4, 4]}\n");
    assertThatThrownBy(() -> JsonlDataset.read(f, m))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("split.jsonl:1: an image's 4 tokens are not contiguous");
  }

  @Test
  void positionsResumeAfterTheLargestImageCoordinate() {
    Qwen2VlInputs q = new Qwen2VlInputs(9, 2);
    // text, a 1 x 2 x 4 grid (1 x 1 x 2 merged: two tokens side by side), text; then padding
    long[] ids = {1, 9, 9, 2, 0};
    long[] mask = {1, 1, 1, 1, 0};
    long[] p = q.mropePositions(ids, mask, 5, List.of(List.of(new long[] {1, 2, 4})));
    assertThat(p).containsExactly(0, 1, 1, 3, 0, /* h */ 0, 1, 1, 3, 0, /* w */ 0, 1, 2, 3, 0);
    assertThat(q.visionPositions(List.of(new long[] {1, 2, 4})))
        .containsExactly(0, 0, 0, 1, 1, 0, 1, 1, 0, 2, 0, 3, 1, 2, 1, 3);
    assertThat(Qwen2VlInputs.cuSeqlens(List.of(new long[] {1, 2, 4}, new long[] {2, 2, 2})))
        .containsExactly(0, 8, 12, 16);
  }
}
