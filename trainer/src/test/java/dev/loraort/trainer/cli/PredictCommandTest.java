package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PredictCommandTest {
  private static final String TINY = "../onnx-models/tiny-roberta-cls";
  private static final String DATA = TINY + "/sample/train.jsonl";

  @TempDir Path dir;

  private static List<JsonObject> rows(Path f) throws IOException {
    return Files.readAllLines(f).stream()
        .map(l -> JsonParser.parseString(l).getAsJsonObject())
        .toList();
  }

  @Test
  void aClassifiersPredictionsAreTheLabelsEvalScores() throws IOException {
    Path run = dir.resolve("run");
    assertThat(Main.run("train", "--steps", "60", "--lr", "5e-3", "--out", run.toString()))
        .isZero();
    Path adapter = run.resolve("adapter.onnx");
    Path pred = dir.resolve("pred.jsonl");
    assertThat(
            Main.run(
                "predict",
                "--model",
                TINY,
                "--adapter",
                adapter.toString(),
                "--data",
                DATA,
                "--batch-size",
                "7",
                "--out",
                pred.toString()))
        .isZero();
    Path scored = dir.resolve("eval.json");
    assertThat(
            Main.run(
                "eval",
                "--model",
                TINY,
                "--adapter",
                adapter.toString(),
                "--data",
                DATA,
                "--out",
                scored.toString()))
        .isZero();
    // without --model: the model the adapter's run.json names (the bundled one, this one)
    Path byRun = dir.resolve("eval-by-run.json");
    assertThat(
            Main.run(
                "eval", "--adapter", adapter.toString(), "--data", DATA, "--out", byRun.toString()))
        .isZero();
    assertThat(Files.readString(byRun)).isEqualTo(Files.readString(scored));
    Path predByRun = dir.resolve("pred-by-run.jsonl");
    assertThat(
            Main.run(
                "predict",
                "--adapter",
                adapter.toString(),
                "--data",
                DATA,
                "--batch-size",
                "7",
                "--out",
                predByRun.toString()))
        .isZero();
    assertThat(Files.readAllLines(predByRun)).isEqualTo(Files.readAllLines(pred));
    List<String> lines = Files.readAllLines(Path.of(DATA));
    List<JsonObject> p = rows(pred);
    assertThat(p).hasSize(lines.size());
    int right = 0;
    for (int i = 0; i < p.size(); i++) {
      JsonObject o = p.get(i);
      assertThat(o.get("index").getAsInt()).isEqualTo(i);
      double sum = 0;
      for (var x : o.getAsJsonArray("probabilities")) {
        sum += x.getAsDouble();
      }
      assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
      long label = JsonParser.parseString(lines.get(i)).getAsJsonObject().get("labels").getAsLong();
      right += o.get("label").getAsLong() == label ? 1 : 0;
    }
    double accuracy =
        JsonParser.parseString(Files.readString(scored))
            .getAsJsonObject()
            .get("accuracy")
            .getAsDouble();
    assertThat((double) right / p.size()).isEqualTo(accuracy);
    assertThat(accuracy).isGreaterThan(0.5); // trained: above the 3-class chance
  }

  @Test
  void withoutAnAdapterEvalAndPredictScoreTheModelAsShipped() throws IOException {
    Path base = dir.resolve("base.json");
    Path pred = dir.resolve("base.jsonl");
    assertThat(Main.run("eval", "--model", TINY, "--data", DATA, "--out", base.toString()))
        .isZero();
    assertThat(Main.run("predict", "--model", TINY, "--data", DATA, "--out", pred.toString()))
        .isZero();
    List<String> lines = Files.readAllLines(Path.of(DATA));
    List<JsonObject> p = rows(pred);
    int right = 0;
    for (int i = 0; i < p.size(); i++) {
      long label = JsonParser.parseString(lines.get(i)).getAsJsonObject().get("labels").getAsLong();
      right += p.get(i).get("label").getAsLong() == label ? 1 : 0;
    }
    double accuracy =
        JsonParser.parseString(Files.readString(base))
            .getAsJsonObject()
            .get("accuracy")
            .getAsDouble();
    assertThat((double) right / p.size()).isEqualTo(accuracy); // the same base model, B = 0
  }

  @Test
  void aCausalLmContinuesEachPromptGreedily() throws IOException {
    Path prompts = dir.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"input_ids\": [5, 6, 7]}\n{\"input_ids\": [9]}\n");
    Path pred = dir.resolve("gen.jsonl");
    String model = "../onnx-models/tiny-gpt2-lm";
    assertThat(
            Main.run(
                "predict",
                "--model",
                model,
                "--data",
                prompts.toString(),
                "--max-new-tokens",
                "4",
                "--out",
                pred.toString()))
        .isZero();
    List<JsonObject> g = rows(pred);
    assertThat(g).hasSize(2);
    for (JsonObject o : g) {
      assertThat(o.getAsJsonArray("continuation_ids").size()).isBetween(1, 4);
    }
    // greedy is deterministic: the same prompt continues the same way
    Path again = dir.resolve("again.jsonl");
    Main.run(
        "predict",
        "--model",
        model,
        "--data",
        prompts.toString(),
        "--max-new-tokens",
        "4",
        "--out",
        again.toString());
    assertThat(Files.readString(again)).isEqualTo(Files.readString(pred));
  }
}
