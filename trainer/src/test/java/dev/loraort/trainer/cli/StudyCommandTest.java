package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyCommandTest {
  private static final String TINY = "../onnx-models/tiny-roberta-cls";
  private static final String DATA = TINY + "/sample/train.jsonl";

  @TempDir Path dir;

  private int study(Path out) {
    return Main.run(
        "study",
        "--model",
        TINY,
        "--data",
        DATA,
        "--test",
        DATA,
        "--shots",
        "8",
        "--seeds",
        "2",
        "--methods",
        "lora,eflat-lora",
        "--rho",
        "0.05,0.2",
        "--lr",
        "5e-3",
        "--steps",
        "5",
        "--threads",
        "1",
        "--out",
        out.toString());
  }

  @Test
  void writesTheTableAndResumesWithoutRerunningFinishedCells() throws Exception {
    Path out = dir.resolve("study");
    assertThat(study(out)).isZero();
    List<String> rows = Files.readAllLines(out.resolve("study.csv"));
    // 2 seeds x (LoRA + EFlat at two rho) cells, and a header
    assertThat(rows).hasSize(1 + 2 * 3);
    assertThat(Files.readString(out.resolve("summary.md")))
        .contains("| lora | - | 0.005 |")
        .contains("| eflat-lora |");
    // each seed's few-shot sample: 8 per class for training, 8 for validation (3 classes)
    Path cell = out.resolve("runs/lora-rho0-lr0.005-seed1");
    assertThat(Files.readAllLines(cell.resolve("train.jsonl"))).hasSize(24);
    assertThat(Files.readAllLines(cell.resolve("validation.jsonl"))).hasSize(24);
    long trained = Files.getLastModifiedTime(cell.resolve("run/adapter.onnx")).toMillis();
    String summary = Files.readString(out.resolve("summary.md"));
    Thread.sleep(20);
    assertThat(study(out)).isZero(); // resumed: every cell is done
    assertThat(Files.getLastModifiedTime(cell.resolve("run/adapter.onnx")).toMillis())
        .isEqualTo(trained);
    assertThat(Files.readString(out.resolve("summary.md"))).isEqualTo(summary);
  }

  @Test
  void theSignFlipTestOnHandCases() {
    // all 3 differences positive: only all-plus and all-minus reach |sum| 6 of 8 assignments
    assertThat(StudyCommand.signFlipP(new double[] {1, 2, 3})).isEqualTo(0.25);
    // no difference on average: every assignment is as extreme
    assertThat(StudyCommand.signFlipP(new double[] {1, -1})).isEqualTo(1.0);
    // 5 of 5 seeds better: 2 / 32
    assertThat(StudyCommand.signFlipP(new double[] {0.01, 0.02, 0.01, 0.03, 0.02}))
        .isEqualTo(2.0 / 32);
  }

  @Test
  void kendallsTauOnHandCases() {
    assertThat(
            StudyCommand.kendallTau(
                List.of(new double[] {1, 10}, new double[] {2, 20}, new double[] {3, 30})))
        .isEqualTo(1.0);
    assertThat(
            StudyCommand.kendallTau(
                List.of(new double[] {1, 30}, new double[] {2, 20}, new double[] {3, 10})))
        .isEqualTo(-1.0);
    // one concordant, one discordant, one tie in y: (1 - 1) / sqrt(2 * 3)
    assertThat(
            StudyCommand.kendallTau(
                List.of(new double[] {1, 1}, new double[] {2, 2}, new double[] {3, 1})))
        .isEqualTo(0.0);
  }

  @Test
  void sharpnessIsAddedToFinishedCellsAndCorrelated() throws Exception {
    Path out = dir.resolve("study");
    assertThat(study(out)).isZero();
    assertThat(Files.readString(out.resolve("summary.md"))).doesNotContain("Kendall");
    assertThat(
            Main.run(
                "study",
                "--model",
                TINY,
                "--data",
                DATA,
                "--test",
                DATA,
                "--shots",
                "8",
                "--seeds",
                "2",
                "--methods",
                "lora,eflat-lora",
                "--rho",
                "0.05,0.2",
                "--lr",
                "5e-3",
                "--steps",
                "5",
                "--threads",
                "1",
                "--sharpness",
                "--out",
                out.toString()))
        .isZero();
    assertThat(Files.readString(out.resolve("runs/lora-rho0-lr0.005-seed0/result.json")))
        .contains("sharpness_adversarial");
    assertThat(Files.readString(out.resolve("summary.md")))
        .contains("Kendall's tau between adversarial sharpness and test accuracy over all 6 runs");
  }
}
