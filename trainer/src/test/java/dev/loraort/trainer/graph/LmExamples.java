package dev.loraort.trainer.graph;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Causal-LM examples for tiny-gpt2-lm whose labels ignore a share of the positions that varies a
 * lot between examples (a prompt masked with -100, as in instruction tuning), so that shards of a
 * batch predict very different numbers of tokens.
 */
public final class LmExamples {
  private LmExamples() {}

  /**
   * Writes {@code n} examples as JSONL: 4 to 20 tokens; the first half keep only their last two
   * labels, the second half keep all.
   *
   * @param file where to write
   * @param n how many examples
   * @param seed token ids and lengths
   * @return the file
   * @throws IOException if it cannot be written
   */
  public static Path write(Path file, int n, long seed) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = 4 + r.nextInt(17);
      List<String> ids = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      for (int k = 0; k < len; k++) {
        String id = Integer.toString(3 + r.nextInt(990));
        ids.add(id);
        labels.add(i < n / 2 && k < len - 2 ? "-100" : id);
      }
      lines.add(
          "{\"input_ids\": ["
              + String.join(", ", ids)
              + "], \"labels\": ["
              + String.join(", ", labels)
              + "]}");
    }
    Files.write(file, lines);
    return file;
  }
}
