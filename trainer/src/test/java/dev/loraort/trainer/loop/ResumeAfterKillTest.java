package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.trainer.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A training process killed for real (SIGKILL, mid-run) and resumed from its last checkpoint writes
 * a final adapter bit-identical to an uninterrupted run's.
 */
class ResumeAfterKillTest {
  @TempDir Path dir;

  static List<String> args(String method, Path out) {
    return new ArrayList<>(
        List.of(
            "train",
            "--model",
            "../onnx-models/tiny-roberta-cls",
            "--data",
            "../onnx-models/tiny-roberta-cls/sample/train.jsonl",
            "--method",
            method,
            "--steps",
            "300",
            "--lr",
            "5e-3",
            "--checkpoint-every",
            "25",
            "--threads",
            "1",
            "--no-progress",
            "--out",
            out.toString(),
            "--trace",
            out.resolve("trace.jsonl").toString()));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "eflat-lora",
        "bi-lora",
        // per-module ranks and scales: the checkpoint holds A, B at their ranks, the config the
        // patterns, and Bi-LoRA's branches are fed folded by s_m / s
        "bi-lora --rank-pattern layer.0.attention.self.query=2 --alpha-pattern value=32"
      })
  void killedAndResumedEqualsUninterrupted(String setting) throws Exception {
    String method = setting.split(" ")[0];
    List<String> extra = List.of(setting.split(" ")).subList(1, setting.split(" ").length);
    Path killed = dir.resolve("killed");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
    cmd.addAll(args(method, killed));
    cmd.addAll(extra);
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("child.log").toFile())
            .start();
    Path trace = killed.resolve("trace.jsonl");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (lines(trace) < 60 && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(p.isAlive())
        .as(
            "the child must still be training when killed; log: %s",
            Files.exists(dir.resolve("child.log"))
                ? Files.readString(dir.resolve("child.log"))
                : "")
        .isTrue();
    p.destroyForcibly(); // SIGKILL: no shutdown hooks, no flushing
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(137);
    assertThat(killed.resolve(TrainingJob.ADAPTER)).doesNotExist();
    assertThat(killed.resolve(Checkpoint.FILE)).exists();
    long killedAt = lines(trace);
    assertThat(killedAt).isLessThan(300);

    long checkpointStep = Checkpoint.read(killed.resolve(Checkpoint.FILE)).step();
    assertThat(checkpointStep).isPositive().isLessThan(300);
    List<String> resume = args(method, killed);
    resume.addAll(extra);
    resume.add("--resume");
    assertThat(Main.run(resume.toArray(new String[0]))).isZero();
    // it continued: this call took only the steps after the checkpoint
    long resumedSteps =
        com.google.gson.JsonParser.parseString(
                Files.readString(killed.resolve(TrainingJob.RUN_JSON)))
            .getAsJsonObject()
            .getAsJsonObject("result")
            .get("steps")
            .getAsLong();
    assertThat(resumedSteps).isEqualTo(300 - checkpointStep);
    // run.json keeps both invocations: the killed one up to its checkpoint, the resumed one after
    com.google.gson.JsonArray segments =
        com.google.gson.JsonParser.parseString(
                Files.readString(killed.resolve(TrainingJob.RUN_JSON)))
            .getAsJsonObject()
            .getAsJsonObject("result")
            .getAsJsonArray("segments");
    assertThat(segments).hasSize(2);
    assertThat(segments.get(0).getAsJsonObject().get("from_step").getAsLong()).isZero();
    assertThat(segments.get(0).getAsJsonObject().get("to_step").getAsLong())
        .isEqualTo(checkpointStep);
    assertThat(segments.get(1).getAsJsonObject().get("to_step").getAsLong()).isEqualTo(300);
    Path straight = dir.resolve("straight");
    List<String> uninterrupted = args(method, straight);
    uninterrupted.addAll(extra);
    assertThat(Main.run(uninterrupted.toArray(new String[0]))).isZero();

    assertThat(Files.readAllBytes(killed.resolve(TrainingJob.ADAPTER)))
        .as("%s: killed after %d traced steps, resumed", method, killedAt)
        .isEqualTo(Files.readAllBytes(straight.resolve(TrainingJob.ADAPTER)));
    List<String> t = Files.readAllLines(trace);
    assertThat(t).hasSize(300);
    for (int i = 0; i < t.size(); i++) {
      assertThat(t.get(i)).startsWith("{\"step\":" + (i + 1) + ",");
    }
  }

  /**
   * Twenty SIGKILLs at random moments of one run that checkpoints every step, so that many land
   * inside a checkpoint write; each time it is resumed, and the run finally completes. Its adapter
   * equals an uninterrupted run's byte for byte, and no temporary file is left in the directory.
   * Slow (a JVM start per kill): {@code mvn verify -Pslow}.
   */
  @Test
  @Tag("slow")
  void twentyKillsAtRandomMomentsIncludingMidWrite() throws Exception {
    Path killed = dir.resolve("killed");
    List<String> every = args("eflat-lora", killed);
    every.set(every.indexOf("--checkpoint-every") + 1, "1");
    every.set(every.indexOf("--steps") + 1, "1000");
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
    int kills = 0;
    int midWrite = 0;
    List<Long> killedAtStep = new ArrayList<>();
    while (kills < 20) {
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  System.getProperty("java.class.path"),
                  Main.class.getName()));
      cmd.addAll(every);
      if (Files.exists(killed.resolve(Checkpoint.FILE))) {
        cmd.add("--resume");
      }
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("child.log").toFile())
              .start();
      Path trace = killed.resolve("trace.jsonl");
      long before = Files.exists(trace) ? Files.size(trace) : -1;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while ((Files.exists(trace) ? Files.size(trace) : -1) == before
          && p.isAlive()
          && System.nanoTime() < deadline) {
        Thread.sleep(2); // until it trains
      }
      Thread.sleep(rnd.nextInt(5, 400)); // somewhere in the steps and their checkpoint writes
      if (!p.isAlive()) {
        break; // finished before the kill: the run is complete
      }
      p.destroyForcibly();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      kills++;
      try (var files = Files.list(killed)) {
        midWrite += files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")) ? 1 : 0;
      }
      Path ckpt = killed.resolve(Checkpoint.FILE); // none yet when killed before step 1 ended
      killedAtStep.add(Files.exists(ckpt) ? Checkpoint.read(ckpt).step() : 0);
    }
    List<String> finish = new ArrayList<>(every);
    finish.add("--resume");
    if (!Files.exists(killed.resolve(TrainingJob.ADAPTER))) {
      assertThat(Main.run(finish.toArray(new String[0]))).isZero();
    }
    Path straight = dir.resolve("straight");
    List<String> once = args("eflat-lora", straight);
    once.set(once.indexOf("--checkpoint-every") + 1, "1");
    once.set(once.indexOf("--steps") + 1, "1000");
    assertThat(Main.run(once.toArray(new String[0]))).isZero();
    System.out.printf(
        "killed %d times, %d of them inside a write (a .tmp file left); checkpoint steps at the"
            + " kills: %s%n",
        kills, midWrite, killedAtStep);
    assertThat(kills).isEqualTo(20);
    assertThat(Files.readAllBytes(killed.resolve(TrainingJob.ADAPTER)))
        .isEqualTo(Files.readAllBytes(straight.resolve(TrainingJob.ADAPTER)));
    try (var files = Files.list(killed)) {
      assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  static long lines(Path f) throws IOException {
    if (!Files.exists(f)) {
      return 0;
    }
    try (var s = Files.lines(f)) {
      return s.count();
    }
  }
}
