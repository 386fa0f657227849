package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --save-best keeps the best evaluation's adapter; --early-stopping ends a run that stalls. */
class SaveBestTest {
  @TempDir Path dir;

  @Test
  void theBestEvaluationsAdapterIsKeptAndAStalledRunStops() throws Exception {
    Path out = dir.resolve("run");
    assertThat(
            Main.run(
                "train",
                "--steps",
                "200",
                "--lr",
                "5e-3",
                "--validation-fraction",
                "0.2",
                "--eval-every",
                "10",
                "--save-best",
                "accuracy",
                "--early-stopping",
                "3",
                "--out",
                out.toString()))
        .isZero();
    JsonObject result =
        JsonParser.parseString(Files.readString(out.resolve("run.json")))
            .getAsJsonObject()
            .getAsJsonObject("result");
    JsonObject best = result.getAsJsonObject("best");
    assertThat(out.resolve(best.get("adapter").getAsString())).isRegularFile();
    // the best is the first evaluation with the highest accuracy in metrics.csv
    List<String> rows = Files.readAllLines(out.resolve("metrics.csv"));
    List<String> header = List.of(rows.get(0).split(","));
    int step = header.indexOf("step");
    int acc = header.indexOf("accuracy");
    double max = -1;
    long at = -1;
    for (String r : rows.subList(1, rows.size())) {
      String[] c = r.split(",");
      if (Double.parseDouble(c[acc]) > max) {
        max = Double.parseDouble(c[acc]);
        at = Long.parseLong(c[step]);
      }
    }
    assertThat(best.get("value").getAsDouble()).isEqualTo(max);
    assertThat(best.get("step").getAsLong()).isEqualTo(at);
    // stopped three evaluations after its best, well before 200 steps
    assertThat(result.get("steps").getAsLong()).isEqualTo(at + 30).isLessThan(200);
  }

  @Test
  void earlyStoppingNeedsAMetric() {
    assertThat(
            Main.run(
                "train",
                "--steps",
                "5",
                "--early-stopping",
                "3",
                "--out",
                dir.resolve("x").toString()))
        .isOne();
  }
}
