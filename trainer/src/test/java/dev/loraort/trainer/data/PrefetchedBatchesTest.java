package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrefetchedBatchesTest {
  @TempDir Path dir;

  /** Batch i holds the value i; counts its calls; fails on the batch numbered failAt. */
  private static final class Numbered implements BatchSource {
    final int failAt;
    int next;
    int built;

    Numbered(int failAt) {
      this.failAt = failAt;
    }

    @Override
    public Map<String, Tensor> next() {
      if (next == failAt) {
        throw new IllegalArgumentException("data.jsonl:" + (next + 1) + ": bad row");
      }
      built++;
      return Map.of("x", Tensor.ofLongs(new long[] {1}, new long[] {next++}));
    }

    @Override
    public int batchesPerEpoch() {
      return 100;
    }

    @Override
    public long[] position() {
      return new long[] {0, next};
    }

    @Override
    public void seek(long[] position) {
      next = (int) position[1];
    }
  }

  private static long value(Map<String, Tensor> batch) {
    return batch.get("x").longs()[0];
  }

  @Test
  void sameBatchesAndPositionsAsTheSourceReadDirectly() throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models/tiny-gpt2-lm"));
    Path f = dir.resolve("d.jsonl");
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 7; i++) {
      lines.append("{\"input_ids\": [").append(i + 3).append(", ").append(i + 40).append("]}\n");
    }
    Files.writeString(f, lines);
    List<JsonlDataset.Example> data = JsonlDataset.read(f, m);
    Batcher direct = new Batcher(data, m, 3, 7);
    try (PrefetchedBatches ahead = new PrefetchedBatches(new Batcher(data, m, 3, 7), 10)) {
      for (int i = 0; i < 10; i++) { // three epochs and a bit: reshuffles and short last batches
        assertThat(ahead.position()).containsExactly(direct.position());
        Map<String, Tensor> a = ahead.next();
        Map<String, Tensor> b = direct.next();
        assertThat(a.keySet()).isEqualTo(b.keySet());
        for (String k : a.keySet()) {
          assertThat(a.get(k).shape()).isEqualTo(b.get(k).shape());
          assertThat(a.get(k).longs()).isEqualTo(b.get(k).longs());
        }
      }
      assertThat(ahead.position()).containsExactly(direct.position());
    }
  }

  @Test
  void buildsNothingBeyondTheCountAndClosingRewindsTheSource() {
    Numbered all = new Numbered(-1);
    try (PrefetchedBatches ahead = new PrefetchedBatches(all, 3)) {
      assertThat(List.of(value(ahead.next()), value(ahead.next()), value(ahead.next())))
          .containsExactly(0L, 1L, 2L);
    }
    assertThat(all.built).isEqualTo(3);

    Numbered part = new Numbered(-1);
    try (PrefetchedBatches ahead = new PrefetchedBatches(part, 5)) {
      ahead.next();
      ahead.next(); // batch 2 is being built ahead
    }
    assertThat(part.position()).containsExactly(0, 2); // where the caller's next batch comes from
  }

  @Test
  void aBuildErrorIsThrownByTheNextThatAsksForThatBatch() {
    Numbered source = new Numbered(2);
    try (PrefetchedBatches ahead = new PrefetchedBatches(source, 4)) {
      assertThat(value(ahead.next())).isZero();
      assertThat(value(ahead.next())).isEqualTo(1);
      assertThatThrownBy(ahead::next)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("data.jsonl:3: bad row");
    }

    Numbered notAsked = new Numbered(2);
    try (PrefetchedBatches ahead = new PrefetchedBatches(notAsked, 4)) {
      ahead.next();
      ahead.next(); // the failing build ran ahead; the caller stops here
    }
    assertThat(notAsked.position()).containsExactly(0, 2);
  }

  @Test
  void seekContinuesFromThePosition() {
    try (PrefetchedBatches ahead = new PrefetchedBatches(new Numbered(-1), 10)) {
      ahead.next();
      ahead.next();
      ahead.seek(new long[] {0, 7});
      assertThat(ahead.position()).containsExactly(0, 7);
      assertThat(value(ahead.next())).isEqualTo(7);
      assertThat(value(ahead.next())).isEqualTo(8);
    }
  }
}
