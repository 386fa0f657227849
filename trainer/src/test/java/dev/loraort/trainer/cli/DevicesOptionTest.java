package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code train --devices}: data-parallel runs from the command line, and what it refuses. */
class DevicesOptionTest {
  @TempDir Path dir;

  private TrainCommand train(String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--steps",
                "2",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                dir.resolve("run").toString()));
    args.addAll(List.of(extra));
    TrainCommand t = new TrainCommand();
    new CommandLine(t).parseArgs(args.toArray(new String[0]));
    return t;
  }

  @Test
  void twoCpuDevicesTrainAndRunJsonNamesThem() throws Exception {
    assertThat(train("--devices", "cpu,cpu").call()).isZero();
    String device =
        JsonParser.parseString(Files.readString(dir.resolve("run/run.json")))
            .getAsJsonObject()
            .getAsJsonObject("settings")
            .get("device")
            .getAsString();
    assertThat(device).isEqualTo("cpu,cpu");
  }

  @Test
  void refusedBeforeTraining() {
    assertThatThrownBy(() -> train("--device", "cpu", "--devices", "cpu,cpu").call())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("give --device or --devices, not both");
    assertThatThrownBy(() -> train("--devices", "cpu,cpu,cpu", "--batch-size", "2").call())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--batch-size 2 is smaller than the 3 devices [cpu, cpu, cpu]");
    assertThat(dir.resolve("run")).doesNotExist(); // refused before anything is written
  }
}
