package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.trainer.plot.SvgDocuments;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

class StudyCommandTest {
  private static final String TINY = "../onnx-models/tiny-roberta-cls";
  private static final String DATA = TINY + "/sample/train.jsonl";

  @TempDir Path dir;

  /** {@code study} on the tiny model (8 shots, lr 5e-3, 5 steps, one thread) with these options. */
  private static int tinyStudy(Path out, List<String> options, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "study",
                "--model",
                TINY,
                "--data",
                DATA,
                "--test",
                DATA,
                "--shots",
                "8",
                "--lr",
                "5e-3",
                "--steps",
                "5",
                "--threads",
                "1",
                "--out",
                out.toString()));
    args.addAll(options);
    args.addAll(List.of(more));
    return Main.run(args.toArray(String[]::new));
  }

  /** Two seeds of LoRA and EFlat-LoRA at rho 0.05 and 0.2. */
  private static int study(Path out, String... more) {
    return tinyStudy(
        out, List.of("--seeds", "2", "--methods", "lora,eflat-lora", "--rho", "0.05,0.2"), more);
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
        .contains("| eflat-lora |")
        .contains("test macro-F1 (mean +- std)");
    assertThat(rows.get(0)).contains(",test_accuracy,test_macro_f1,");
    Document svg = SvgDocuments.read(out.resolve("study.svg"));
    // three columns (LoRA, EFlat at each rho): a dot per seed and one for the mean each
    assertThat(SvgDocuments.elements(svg, "circle")).hasSize(3 * (2 + 1));
    assertThat(SvgDocuments.elements(svg, "line"))
        .filteredOn(e -> e.hasAttribute("stroke-dasharray"))
        .hasSize(1);
    assertThat(SvgDocuments.texts(svg))
        .contains("rho 0.05", "rho 0.2")
        .anyMatch(t -> t.startsWith("lora"));
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
  void aReplicationOnLaterSeedsReusesTheirCellsAndReportsThemAlone() throws Exception {
    Path out = dir.resolve("study");
    assertThat(study(out)).isZero(); // seeds 0 and 1
    List<String> first = Files.readAllLines(out.resolve("study.csv"));
    Path adapter = out.resolve("runs/lora-rho0-lr0.005-seed1/run/adapter.onnx");
    long trained = Files.getLastModifiedTime(adapter).toMillis();
    assertThat(
            tinyStudy(
                out,
                List.of("--seeds", "2", "--methods", "lora,eflat-lora", "--rho", "0.05,0.2"),
                "--first-seed",
                "1"))
        .isZero();
    List<String> rows = Files.readAllLines(out.resolve("study.csv"));
    assertThat(rows).hasSize(1 + 2 * 3);
    // seed 1's cells are the first study's (not trained again); seed 2's are new; seed 0 is out
    List<String> seed1 = first.stream().filter(r -> r.contains(",0.005,1,")).toList();
    assertThat(seed1).hasSize(3);
    assertThat(rows.subList(1, 4)).containsExactlyElementsOf(seed1);
    assertThat(rows.subList(4, 7)).allMatch(r -> r.contains(",0.005,2,"));
    assertThat(Files.getLastModifiedTime(adapter).toMillis()).isEqualTo(trained);
    assertThat(Files.readString(out.resolve("summary.md"))).contains("2 seeds (1-2), 5 steps");
  }

  @Test
  void flatLoraSearchesItsSigmaGridAndTheTablesNameIt() throws Exception {
    Path out = dir.resolve("sigma");
    // -0 and 5e-1 repeat 0 and 0.5: one cell each
    assertThat(loraAndFlatLora(out, "--sigma", "0,0.5,-0,5e-1")).isZero();
    Path runs = out.resolve("runs");
    for (String sigma : List.of("0", "0.5")) {
      JsonObject method =
          json(runs.resolve("flat-lora-sigma" + sigma + "-lr0.005-seed0/run/run.json"))
              .getAsJsonObject("config")
              .getAsJsonObject("method");
      assertThat(method.get("sigma").getAsDouble()).isEqualTo(Double.parseDouble(sigma));
    }
    // sigma 0 adds no noise, so it trains what LoRA trains; 0.5 does not
    double lora = lastLoss(runs.resolve("lora-rho0-lr0.005-seed0"));
    assertThat(lastLoss(runs.resolve("flat-lora-sigma0-lr0.005-seed0"))).isEqualTo(lora);
    assertThat(lastLoss(runs.resolve("flat-lora-sigma0.5-lr0.005-seed0"))).isNotEqualTo(lora);
    assertThat(Files.readAllLines(out.resolve("study.csv")))
        .hasSize(1 + 3)
        .anyMatch(row -> row.startsWith("lora,,,0.005,0,"))
        .anyMatch(row -> row.startsWith("flat-lora,,0.5,0.005,0,"));
    assertThat(Files.readString(out.resolve("summary.md")))
        .contains("| method | rho / sigma |")
        .containsPattern("\\| flat-lora \\| sigma 0(\\.5)? \\|");
    assertThat(SvgDocuments.texts(SvgDocuments.read(out.resolve("study.svg"))))
        .contains("sigma 0", "sigma 0.5");
    // without --sigma: Flat-LoRA's own default
    assertThat(loraAndFlatLora(out)).isZero();
    assertThat(runs.resolve("flat-lora-sigma0.05-lr0.005-seed0/result.json")).exists();
  }

  @Test
  void aBadRadiusFailsBeforeAnyCellTrains() throws Exception {
    Path out = dir.resolve("bad");
    // lora trains first in the grid's order, but a negative sigma stops the study before it
    assertThat(loraAndFlatLora(out, "--sigma", "0.05,-1")).isNotZero();
    assertThat(out.resolve("runs")).doesNotExist();
  }

  /** A one-seed study of LoRA and Flat-LoRA on the tiny model. */
  private static int loraAndFlatLora(Path out, String... more) {
    return tinyStudy(out, List.of("--seeds", "1", "--methods", "lora,flat-lora"), more);
  }

  private static double lastLoss(Path cell) throws IOException {
    return json(cell.resolve("run/run.json"))
        .getAsJsonObject("result")
        .get("last_loss")
        .getAsDouble();
  }

  @Test
  void parallelCellsOverlapAndTrainWhatTheSequentialRunTrains() throws Exception {
    Path one = dir.resolve("one");
    Path three = dir.resolve("three");
    assertThat(study(one)).isZero();
    assertThat(study(three, "--parallel", "3")).isZero();
    List<double[]> spans = new ArrayList<>();
    try (var cells = Files.list(three.resolve("runs"))) {
      for (Path cell : cells.toList()) {
        Path same = one.resolve("runs").resolve(cell.getFileName());
        JsonObject a = json(same.resolve("result.json"));
        JsonObject b = json(cell.resolve("result.json"));
        assertThat(b.get("cells_at_once").getAsInt()).isEqualTo(3);
        for (String k : List.of("validation_accuracy", "test_accuracy", "test_macro_f1")) {
          assertThat(b.get(k).getAsDouble()).as(cell + " " + k).isEqualTo(a.get(k).getAsDouble());
        }
        JsonObject ra = json(same.resolve("run/run.json")).getAsJsonObject("result");
        JsonObject rb = json(cell.resolve("run/run.json")).getAsJsonObject("result");
        assertThat(rb.get("last_loss").getAsDouble()).isEqualTo(ra.get("last_loss").getAsDouble());
        JsonObject seg = rb.getAsJsonArray("segments").get(0).getAsJsonObject();
        double start = Instant.parse(seg.get("started").getAsString()).toEpochMilli();
        spans.add(new double[] {start, start + 1e3 * seg.get("seconds").getAsDouble()});
      }
    }
    assertThat(spans).hasSize(6);
    assertThat(Files.readString(three.resolve("summary.md")))
        .contains("with up to 3 cells training at once");
    assertThat(Files.readString(one.resolve("summary.md"))).doesNotContain("at once");
    // at least two cells trained at the same time
    boolean overlap = false;
    for (double[] x : spans) {
      for (double[] y : spans) {
        overlap |= x != y && x[0] < y[1] && y[0] < x[1];
      }
    }
    assertThat(overlap).isTrue();
    assertThat(study(dir.resolve("zero"), "--parallel", "0")).isNotZero();
  }

  private static JsonObject json(Path p) throws IOException {
    return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
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
    assertThat(study(out, "--sharpness")).isZero();
    JsonObject all = json(out.resolve("runs/lora-rho0-lr0.005-seed0/result.json"));
    assertThat(all.get("sharpness_examples").getAsInt()).isEqualTo(24); // 8 per class x 3
    assertThat(Files.readString(out.resolve("summary.md")))
        .contains("Kendall's tau between adversarial sharpness and test accuracy over all 6 runs");

    Path some = dir.resolve("some");
    assertThat(study(some, "--sharpness", "--sharpness-examples", "5")).isZero();
    JsonObject five = json(some.resolve("runs/lora-rho0-lr0.005-seed0/result.json"));
    assertThat(five.get("sharpness_examples").getAsInt()).isEqualTo(5);
    assertThat(five.get("test_accuracy").getAsDouble())
        .isEqualTo(all.get("test_accuracy").getAsDouble()); // the same training
    assertThat(five.get("sharpness_adversarial").getAsDouble())
        .isNotEqualTo(all.get("sharpness_adversarial").getAsDouble());
  }

  @Test
  void aCellOfAnOlderBuildGetsItsMacroF1FromItsAdapter() throws Exception {
    Path out = dir.resolve("study");
    assertThat(study(out)).isZero();
    Path result = out.resolve("runs/eflat-lora-rho0.2-lr0.005-seed1/result.json");
    JsonObject r = json(result);
    double f1 = r.get("test_macro_f1").getAsDouble();
    // the confusion matrix of the 3-class test set: its rows add up to the file's 24 lines
    long n = 0;
    for (var row : r.getAsJsonArray("test_confusion")) {
      for (var v : row.getAsJsonArray()) {
        n += v.getAsLong();
      }
    }
    assertThat(n)
        .isEqualTo(Files.readAllLines(Path.of(DATA)).stream().filter(l -> !l.isBlank()).count());
    r.remove("test_macro_f1");
    r.remove("test_confusion");
    Files.writeString(result, r.toString());
    assertThat(study(out)).isZero();
    JsonObject again = json(result);
    assertThat(again.get("test_macro_f1").getAsDouble()).isEqualTo(f1);
    assertThat(again.has("test_confusion")).isTrue();
  }

  @Test
  void aSummaryWithSharpnessOnSomeSeedsSaysHowManyItCovers() {
    StudyCommand c = handStudy();
    Map<StudyCommand.Cell, StudyCommand.Outcome> r = handGrid();
    double k = 0;
    for (Map.Entry<StudyCommand.Cell, StudyCommand.Outcome> e : r.entrySet()) {
      if (e.getKey().seed() == 0) { // seed 1 stopped before its sharpness
        StudyCommand.Outcome o = e.getValue();
        e.setValue(
            new StudyCommand.Outcome(
                o.validation(), o.test(), o.secondsPerStep(), 0.1 + k, 0.01, o.testMacroF1(), 1));
        k += 0.1;
      }
    }
    // LoRA's pick (lr 0.003) is the second cell on seed 0: 0.2; EFlat's (rho 0.2 lr 0.001) the
    // fifth
    assertThat(c.summary(r))
        .contains("lora 0.2000 / 0.01000 (measured on 1 of 2 seeds);")
        .contains("eflat-lora 0.5000 / 0.01000 (measured on 1 of 2 seeds);")
        .contains("over the 6 of 12 runs measured:")
        .doesNotContain("NaN");
  }

  /** A study over the hand grid's model, data, seeds and learning rates. */
  private static StudyCommand handStudy() {
    StudyCommand c = new StudyCommand();
    c.model = Path.of("m");
    c.data = Path.of("d.jsonl");
    c.seeds = 2;
    c.lrs = List.of(0.001, 0.003);
    return c;
  }

  /** Results of a hand-made 2-seed grid: {validation acc, test acc, s/step, -, -, macro F1}. */
  private static Map<StudyCommand.Cell, StudyCommand.Outcome> handGrid() {
    Map<StudyCommand.Cell, StudyCommand.Outcome> r = new LinkedHashMap<>();
    put(r, "lora", 0, 0.001, 0.60, 0.70, 0.50, 0.70, 0.60, 0.80);
    put(r, "lora", 0, 0.003, 0.70, 0.75, 0.60, 0.65, 0.50, 0.60);
    // rho 0.05: lr 0.003 better on validation; rho 0.2: lr 0.001, and the best of all on validation
    put(r, "eflat-lora", 0.05, 0.001, 0.50, 0.50, 0.90, 0.90, 0.90, 0.90);
    put(r, "eflat-lora", 0.05, 0.003, 0.60, 0.60, 0.60, 0.70, 0.60, 0.70);
    put(r, "eflat-lora", 0.2, 0.001, 0.80, 0.80, 0.66, 0.74, 0.30, 0.50);
    put(r, "eflat-lora", 0.2, 0.003, 0.70, 0.70, 0.95, 0.95, 0.95, 0.95);
    return r;
  }

  /** One grid point on seeds 0 and 1: validation, test and macro F1 by seed. */
  private static void put(
      Map<StudyCommand.Cell, StudyCommand.Outcome> r,
      String method,
      double rho,
      double lr,
      double v0,
      double v1,
      double t0,
      double t1,
      double f0,
      double f1) {
    r.put(
        new StudyCommand.Cell(method, rho, lr, 0),
        new StudyCommand.Outcome(v0, t0, 0.5, Double.NaN, Double.NaN, f0, 1));
    r.put(
        new StudyCommand.Cell(method, rho, lr, 1),
        new StudyCommand.Outcome(v1, t1, 0.5, Double.NaN, Double.NaN, f1, 1));
  }

  @Test
  void thePlotsColumnsTakeEachRhosBestLearningRateOnValidation() {
    List<StudyCommand.Column> cols =
        StudyCommand.plotColumns(handGrid(), List.of("lora", "eflat-lora"), 0, 2);
    assertThat(cols).hasSize(3);
    assertThat(cols.get(0).method()).isEqualTo("lora");
    assertThat(cols.get(0).lr()).isEqualTo(0.003); // validation 0.725 against 0.65
    assertThat(cols.get(0).test()).containsExactly(0.60, 0.65);
    assertThat(cols.get(0).picked()).isTrue();
    assertThat(cols.get(1).radius()).isEqualTo(0.05);
    assertThat(cols.get(1).lr()).isEqualTo(0.003); // 0.65 against 0.5, though its test is lower
    assertThat(cols.get(1).picked()).isFalse();
    assertThat(cols.get(2).radius()).isEqualTo(0.2);
    assertThat(cols.get(2).lr()).isEqualTo(0.001);
    assertThat(cols.get(2).picked()).isTrue(); // 0.8 is eflat's best mean validation
    // test 0.66, 0.74: mean 0.70, sample std sqrt(2 * 0.04^2) = 0.0566
    assertThat(cols.get(2).mean()).isCloseTo(0.70, within(1e-12));
    assertThat(cols.get(2).std()).isCloseTo(Math.sqrt(2 * 0.04 * 0.04), within(1e-12));
  }

  @Test
  void theSummaryGivesMacroF1OfEachPick() {
    StudyCommand c = handStudy();
    String s = c.summary(handGrid());
    // LoRA's pick lr 0.003: macro F1 0.5, 0.6 -> 0.55 +- 0.0707; EFlat's rho 0.2 lr 0.001: 0.3, 0.5
    // -> 0.40 +- 0.1414; test differences 0.06, 0.09 -> +0.075, p = 2/4
    assertThat(s)
        .contains(
            "| lora | - | 0.003 | 0.7250 | 0.6250 +- 0.0354 | +0.0000 | - | 0.5500 +- 0.0707 |")
        .contains(
            "| eflat-lora | 0.2 | 0.001 | 0.8000 | 0.7000 +- 0.0566 | +0.0750 | 0.500 | 0.4000 +- 0.1414 |");
  }

  @Test
  void smallPValuesKeepTheirDigits() {
    assertThat(StudyCommand.shownP(0.25)).isEqualTo("0.250");
    assertThat(StudyCommand.shownP(0.001)).isEqualTo("0.001");
    // 17 of 20 seeds ahead: 2^-12 and the like, not "0.000"
    assertThat(StudyCommand.shownP(1.6e-4)).isEqualTo("1.6e-04");
  }

  @Test
  void thePlotsRangeEndsAtOneThoughMeanPlusStdGoesBeyond() {
    // seeds 1.0 and 0.9: mean 0.95 + std 0.0707 = 1.02
    StudyCommand.Column c =
        new StudyCommand.Column("lora", 0, 0.001, new double[] {1.0, 0.9}, true);
    assertThat(StudyCommand.plotRange(List.of(c))).containsExactly(0.8, 1.0);
  }

  @Test
  void thePlotsRangeHasRoundDivisions() {
    // 0.61 to 0.69: a 0.025 step from 0.6 (0.02 from 0.6 reaches only 0.68 < 0.69 + 0.005)
    assertThat(StudyCommand.roundRange(0.61, 0.69)[0]).isCloseTo(0.6, within(1e-12));
    assertThat(StudyCommand.roundRange(0.61, 0.69)[1]).isCloseTo(0.7, within(1e-12));
    // 0.30 to 0.38: 0.02 from 0.28 reaches 0.36; 0.025 from 0.275 reaches 0.375; 0.05 from 0.25
    assertThat(StudyCommand.roundRange(0.30, 0.38)[0]).isCloseTo(0.25, within(1e-12));
    assertThat(StudyCommand.roundRange(0.30, 0.38)[1]).isCloseTo(0.45, within(1e-12));
    // 0.764 to 0.94 (a bad seed far below): 0.1 from 0.7 would reach 1.1; it ends at 1 instead
    assertThat(StudyCommand.roundRange(0.764, 0.94)[0]).isCloseTo(0.6, within(1e-12));
    assertThat(StudyCommand.roundRange(0.764, 0.94)[1]).isCloseTo(1.0, within(1e-12));
    // a perfect seed: 0.05 from 0.85 would reach 1.05; moved down to end at 1
    assertThat(StudyCommand.roundRange(0.9, 1.0)[0]).isCloseTo(0.8, within(1e-12));
    assertThat(StudyCommand.roundRange(0.9, 1.0)[1]).isCloseTo(1.0, within(1e-12));
    // 0.625 (5 of 8): 0.1 from 0.6, though (0.625 - 0.025) / 0.1 is 5.999... in doubles
    assertThat(StudyCommand.roundRange(0.625, 0.98)[0]).isCloseTo(0.6, within(1e-12));
    // nothing round holds 0.02 to 0.99 with room: all of [0, 1]
    assertThat(StudyCommand.roundRange(0.02, 0.99)).containsExactly(0.0, 1.0);
  }
}
