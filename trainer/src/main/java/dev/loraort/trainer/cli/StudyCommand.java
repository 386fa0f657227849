package dev.loraort.trainer.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.config.RunSettings;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.eval.ClassificationMetrics;
import dev.loraort.trainer.eval.Evaluator;
import dev.loraort.trainer.eval.Sharpness;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.loop.StepLoop;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.method.FlatLoraRwp;
import dev.loraort.trainer.method.MethodSetting;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.plot.Chart;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToDoubleFunction;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code lora-trainer study}: does a method beat LoRA here? A grid of methods x radius (rho, or
 * Flat-LoRA's sigma) x learning rate x seeds on one classification model and task, each cell chosen
 * on validation accuracy only, then reported on the test set as mean and standard deviation over
 * seeds with a paired test against LoRA.
 */
@Command(
    name = "study",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Trains every method x radius (--rho, or --sigma for flat-lora) x learning rate on every"
          + " seed (few-shot: --shots examples per"
          + " class sampled per seed from --data, as many again for validation; full data: a"
          + " --validation-fraction split), picks each method's radius and learning rate on mean"
          + " validation accuracy alone, and reports its test accuracy (mean +- std over seeds)"
          + " and a paired sign-flip test against LoRA's pick on the same seeds. A finished run is"
          + " not run again. Writes OUT/runs/*/ (run.json, result.json), OUT/study.csv and"
          + " OUT/summary.md (with macro-F1 on the test set) and OUT/study.svg (test accuracy"
          + " per method and radius).%n"
    })
final class StudyCommand implements Callable<Integer> {
  /** The most seeds the exact sign-flip test enumerates (2^20 sign assignments). */
  static final int MAX_SEEDS = 20;

  @Option(names = "--model", paramLabel = "DIR", required = true, description = "model directory")
  Path model;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      required = true,
      description = "JSONL with labels (token ids or text): the pool to train and validate on")
  Path data;

  @Option(names = "--test", paramLabel = "FILE", required = true, description = "JSONL test set")
  Path test;

  @Option(names = "--out", paramLabel = "DIR", required = true, description = "study directory")
  Path out;

  @Option(names = "--methods", split = ",", description = "default: ${DEFAULT-VALUE}")
  List<String> methods = List.of("lora", "eflat-lora");

  @Option(
      names = "--rho",
      split = ",",
      description = "the rho grid of the methods that take --rho (default: ${DEFAULT-VALUE})")
  List<Double> rhos = List.of(0.01, 0.05, 0.2, 0.5);

  @Option(
      names = "--sigma",
      split = ",",
      description =
          "the sigma grid of the methods that take --sigma (flat-lora; default: the method's own"
              + " default)")
  List<Double> sigmas;

  @Option(names = "--lr", split = ",", description = "default: ${DEFAULT-VALUE}")
  List<Double> lrs = List.of(1e-3, 3e-3);

  @Option(names = "--seeds", description = "how many seeds (default: ${DEFAULT-VALUE})")
  int seeds = 5;

  @Option(
      names = "--first-seed",
      paramLabel = "K",
      description =
          "seeds K..K+N-1 (default: 0): with one --rho (or --sigma) and one --lr per method, a"
              + " replication on seeds not used before, its table and paired test over these"
              + " seeds alone")
  int firstSeed;

  @Option(
      names = "--shots",
      description = "examples per class per seed for training (0: all of --data; default: 0)")
  int shots;

  @Option(
      names = "--validation-fraction",
      description = "full data: the share held out for choosing (default: ${DEFAULT-VALUE})")
  double validationFraction = 0.2;

  @Option(names = "--steps", description = "default: ${DEFAULT-VALUE}")
  long steps = 100;

  @Option(names = "--batch-size", description = "default: ${DEFAULT-VALUE}")
  int batchSize = 16;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Option(names = "--threads", description = "CPU threads, 0 = all (default: ${DEFAULT-VALUE})")
  int threads;

  @Option(
      names = "--sharpness",
      description =
          "also measure each final adapter's sharpness on its validation set (the sharpness"
              + " command's adversarial and random-direction loss increase, rho 0.05, 3 steps, 8"
              + " directions), for finished cells too, and report Kendall's tau between sharpness"
              + " and test accuracy over all runs")
  boolean sharpness;

  @Option(
      names = "--sharpness-examples",
      paramLabel = "N",
      description =
          "measure sharpness on the first N validation examples of each cell (its validation"
              + " split is shuffled by seed, so a random sample); 0: all of them (default: 0). Each"
              + " measurement runs about 12 passes over them in strict fp32, which on a full-data"
              + " split costs more than the training")
  int sharpnessExamples;

  @Option(
      names = "--parallel",
      description =
          "cells trained at once, each with its own sessions (default: ${DEFAULT-VALUE}): a GPU"
              + " that one small model's cell leaves mostly idle trains several; on the CPU give"
              + " each cell a share of the cores with --threads")
  int parallel = 1;

  @Mixin DataOptions read = new DataOptions();

  /**
   * One cell of the grid on one seed.
   *
   * @param radius the value of the method's {@link #radiusOf radius setting} (0 for a method with
   *     none)
   */
  record Cell(String method, double radius, double lr, int seed) {
    /** "eflat-lora-rho0.05-lr0.001-seed0", "flat-lora-sigma0.05-...", "lora-rho0-..." */
    String dir() {
      MethodSetting<Double> r = radiusOf(method);
      String name = r == null ? "rho" : nameOf(r); // radius-free methods keep "rho0"
      return String.format(
          Locale.ROOT, "%s-%s%s-lr%s-seed%d", method, name, num(radius), num(lr), seed);
    }
  }

  /**
   * A finished cell's numbers, from its result.json.
   *
   * @param validation accuracy on the cell's validation split
   * @param test accuracy on the test set
   * @param secondsPerStep the training's wall time per step
   * @param sharpnessAdversarial worst-case loss increase at rho 0.05 (NaN if not measured)
   * @param sharpnessRandom random-direction loss increase (NaN if not measured)
   * @param testMacroF1 macro-F1 on the test set
   * @param cellsAtOnce how many cells trained side by side (1 where not recorded)
   */
  record Outcome(
      double validation,
      double test,
      double secondsPerStep,
      double sharpnessAdversarial,
      double sharpnessRandom,
      double testMacroF1,
      int cellsAtOnce) {
    static Outcome of(JsonObject r) {
      return new Outcome(
          r.get("validation_accuracy").getAsDouble(),
          r.get("test_accuracy").getAsDouble(),
          r.get("seconds_per_step").getAsDouble(),
          number(r, "sharpness_adversarial"),
          number(r, "sharpness_random"),
          r.get("test_macro_f1").getAsDouble(),
          r.has("cells_at_once") ? r.get("cells_at_once").getAsInt() : 1);
    }
  }

  @Override
  public Integer call() throws Exception {
    Manifest m = Manifest.read(model);
    if (!m.task().equals("seq-cls")) {
      throw new IllegalArgumentException(
          "study: a classification model (seq-cls), got " + m.task());
    }
    if (!methods.contains("lora")) {
      throw new IllegalArgumentException("study: --methods must include lora, the baseline");
    }
    if (seeds < 1 || seeds > MAX_SEEDS) {
      throw new IllegalArgumentException(
          "study: --seeds must be 1 to " + MAX_SEEDS + " (the exact paired test), got " + seeds);
    }
    if (firstSeed < 0) {
      throw new IllegalArgumentException("study: --first-seed must be >= 0, got " + firstSeed);
    }
    List<Cell> cells = new ArrayList<>();
    for (int s = firstSeed; s < firstSeed + seeds; s++) {
      for (String method : methods) {
        for (double radius : distinct(grid(method))) {
          for (double lr : distinct(lrs)) {
            cells.add(new Cell(method, radius, lr, s));
          }
        }
      }
    }
    for (Cell c : cells.subList(0, cells.size() / seeds)) {
      trainConfig(c, out); // a bad rho, sigma or lr fails here, before any cell trains
    }
    if (sharpnessExamples < 0) {
      throw new IllegalArgumentException(
          "study: --sharpness-examples must be >= 0, got " + sharpnessExamples);
    }
    if (parallel < 1) {
      throw new IllegalArgumentException("study: --parallel must be >= 1, got " + parallel);
    }
    Files.createDirectories(out.resolve("runs"));
    ExecutionDevice dev = cellDevice();
    List<JsonlDataset.Example> testSet = Examples.load(test, m, read.textOptions(model, m, test));
    Map<Cell, JsonObject> finished = finishAll(cells, c -> finish(m, c, testSet, dev));
    Map<Cell, Outcome> results = new LinkedHashMap<>();
    for (Cell c : cells) {
      results.put(c, Outcome.of(finished.get(c)));
    }
    writeTable(results);
    String summary = summary(results);
    System.out.print(summary);
    byte[] b = summary.getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(out.resolve("summary.md"), o -> o.write(b));
    List<Column> cols = plotColumns(results, methods, firstSeed, seeds);
    plot(cols).write(out.resolve("study.svg"));
    return 0;
  }

  /**
   * The device every cell trains on. The CUDA EP captures its graphs in CUDA's global capture mode,
   * which fails any other thread's allocation in the process meanwhile: cells side by side run
   * bound, uncaptured.
   */
  private ExecutionDevice cellDevice() {
    ExecutionDevice dev = ExecutionDevice.parse(device, true);
    return parallel > 1 && dev.cuda() && dev.io() == ExecutionDevice.Io.AUTO
        ? dev.withIo(ExecutionDevice.Io.BOUND)
        : dev;
  }

  /** What finishing one cell takes: its result.json as it ends up. */
  @FunctionalInterface
  private interface CellWork {
    JsonObject finish(Cell c) throws IOException;
  }

  /**
   * Finishes every cell, {@link #parallel} at a time, each on its own thread and sessions. After a
   * failure no further cell starts, the cells already running finish (their results are kept for
   * the next run to resume from), and the first failure in grid order is thrown.
   *
   * @return each cell's result, in grid order
   */
  private Map<Cell, JsonObject> finishAll(List<Cell> cells, CellWork work) throws IOException {
    ExecutorService pool = Executors.newFixedThreadPool(parallel);
    AtomicBoolean failed = new AtomicBoolean();
    AtomicInteger done = new AtomicInteger();
    List<Future<JsonObject>> futures = new ArrayList<>();
    try {
      for (Cell c : cells) {
        futures.add(
            pool.submit(
                () -> {
                  if (failed.get()) {
                    return null;
                  }
                  try {
                    JsonObject r = work.finish(c);
                    System.err.printf(
                        Locale.ROOT,
                        "[%d/%d] %s: validation %.4f, test %.4f%n",
                        done.incrementAndGet(),
                        cells.size(),
                        c.dir(),
                        r.get("validation_accuracy").getAsDouble(),
                        r.get("test_accuracy").getAsDouble());
                    return r;
                  } catch (IOException | RuntimeException | Error e) {
                    failed.set(true);
                    throw e;
                  }
                }));
      }
    } finally {
      pool.shutdown();
    }
    Map<Cell, JsonObject> out = new LinkedHashMap<>();
    Throwable first = null;
    for (int i = 0; i < cells.size(); i++) {
      try {
        out.put(cells.get(i), futures.get(i).get());
      } catch (ExecutionException e) {
        first = first == null ? e.getCause() : first;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        pool.shutdownNow();
        throw new IOException("study: interrupted while its cells ran", e);
      }
    }
    if (first instanceof IOException e) {
      throw e;
    } else if (first instanceof RuntimeException e) {
      throw e;
    } else if (first != null) {
      throw (Error) first;
    }
    return out;
  }

  /**
   * Trains the cell unless its result.json exists, then adds what an older build or a run without
   * --sharpness left out.
   */
  private JsonObject finish(
      Manifest m, Cell c, List<JsonlDataset.Example> testSet, ExecutionDevice dev)
      throws IOException {
    Path dir = out.resolve("runs").resolve(c.dir());
    Path result = dir.resolve("result.json");
    if (!Files.exists(result)) {
      runCell(m, c, dir, testSet, dev);
    }
    JsonObject r = JsonParser.parseString(Files.readString(result)).getAsJsonObject();
    if (!r.has("test_macro_f1")) { // a cell of an older build: score its adapter again
      r = addTestMacroF1(m, dir, r, testSet, dev);
    }
    if (sharpness && !r.has("sharpness_adversarial")) {
      r = measureSharpness(m, dir, r, dev);
    }
    return r;
  }

  /**
   * A cell's training configuration, as {@code train} would read it from the command line.
   *
   * @throws IllegalArgumentException for a value the method does not accept (e.g. rho 0)
   */
  private TrainConfig trainConfig(Cell c, Path runDir) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--method",
                c.method(),
                "--lr",
                num(c.lr()),
                "--seed",
                Integer.toString(c.seed()),
                "--steps",
                Long.toString(steps),
                "--batch-size",
                Integer.toString(batchSize),
                "--out",
                runDir.toString()));
    MethodSetting<Double> radius = radiusOf(c.method());
    if (radius != null) {
      args.addAll(List.of(radius.flag(), num(c.radius())));
    }
    TrainCommand t = new TrainCommand();
    new CommandLine(t).parseArgs(args.toArray(new String[0]));
    return t.config();
  }

  /** The values in their order, each once, -0 read as 0 (cells of equal values are one cell). */
  private static List<Double> distinct(List<Double> values) {
    return values.stream().map(v -> v + 0.0).distinct().toList();
  }

  /** Trains one cell (its data sampled by seed) and scores it on validation and test. */
  private void runCell(
      Manifest m, Cell c, Path dir, List<JsonlDataset.Example> testSet, ExecutionDevice dev)
      throws IOException {
    Path trainFile = dir.resolve("train.jsonl");
    Path valFile = dir.resolve("validation.jsonl");
    Files.createDirectories(dir);
    sample(c.seed(), trainFile, valFile);
    TrainConfig cfg = trainConfig(c, dir.resolve("run"));
    Examples.TextOptions text = read.textOptions(model, m, trainFile);
    RunSettings settings =
        new RunSettings(
            List.of(dev), threads, dir.resolve("run"), null, false, 0, false, true, 0, 0, null, 0);
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    StepLoop.Result r =
        TrainingJob.run(
            new TrainingJob.Inputs(model, model.toString(), trainFile, null, text, null, 0, 0, 1),
            cfg,
            settings,
            Methods.create(cfg.method()),
            quiet);
    List<JsonlDataset.Example> val = Examples.load(valFile, m, text);
    ClassificationMetrics v = Evaluator.classify(m, r.params(), val, 64, dev, threads);
    ClassificationMetrics te = Evaluator.classify(m, r.params(), testSet, 64, dev, threads);
    JsonObject o = new JsonObject();
    o.addProperty("validation_accuracy", v.accuracy());
    o.addProperty("test_accuracy", te.accuracy());
    o.addProperty("test_f1", te.f1());
    putTestScores(o, te);
    o.addProperty("seconds_per_step", r.seconds() / Math.max(1, r.steps()));
    o.addProperty("cells_at_once", parallel); // what seconds_per_step was shared with
    byte[] b = o.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(dir.resolve("result.json"), w -> w.write(b)); // last: it marks the cell done
  }

  /**
   * The setting whose grid a method's cells search: --rho (lora-sam, fmlora, eflat-lora, bi-lora)
   * or --sigma (flat-lora), the size of the perturbation; null for lora, BAR and head-only.
   */
  static MethodSetting<Double> radiusOf(String method) {
    for (MethodSetting.Default<?> d : Methods.byId(method).settings()) {
      if (d.setting() == MethodSetting.RHO) {
        return MethodSetting.RHO;
      }
      if (d.setting() == FlatLoraRwp.SIGMA) {
        return FlatLoraRwp.SIGMA;
      }
    }
    return null;
  }

  /** "rho", "sigma": a radius setting as cell names, tables and the plot write it. */
  private static String nameOf(MethodSetting<Double> radius) {
    return radius.flag().substring(2);
  }

  /** A method's radius grid: --rho, --sigma (by default the method's own sigma), or {0}. */
  private List<Double> grid(String method) {
    MethodSetting<Double> r = radiusOf(method);
    if (r == null) {
      return List.of(0.0);
    }
    if (r == MethodSetting.RHO) {
      return rhos;
    }
    if (sigmas != null) {
      return sigmas;
    }
    return Methods.byId(method).settings().stream()
        .filter(d -> d.setting() == r)
        .map(d -> (Double) d.value())
        .toList();
  }

  /** "0.250", and below 0.001 "1.6e-04" (over 20 seeds p goes down to 2e-6, not to "0.000"). */
  static String shownP(double p) {
    return String.format(Locale.ROOT, p >= 0.001 ? "%.3f" : "%.1e", p);
  }

  /** A radius as the summary shows it: "0.05" (rho), "sigma 0.05", or "-" for none. */
  private static String shownRadius(String method, double radius) {
    MethodSetting<Double> r = radiusOf(method);
    if (r == null) {
      return "-";
    }
    return r == MethodSetting.RHO ? num(radius) : nameOf(r) + " " + num(radius);
  }

  /** Test macro F1 and the confusion matrix (counts[true][predicted]) in a result. */
  private static void putTestScores(JsonObject o, ClassificationMetrics te) {
    o.addProperty("test_macro_f1", te.macroF1());
    JsonArray rows = new JsonArray();
    for (long[] row : te.confusion()) {
      JsonArray a = new JsonArray();
      for (long v : row) {
        a.add(v);
      }
      rows.add(a);
    }
    o.add("test_confusion", rows);
  }

  /** Scores a finished cell's adapter on the test set again and adds macro F1 to result.json. */
  private JsonObject addTestMacroF1(
      Manifest m, Path dir, JsonObject r, List<JsonlDataset.Example> testSet, ExecutionDevice dev)
      throws IOException {
    LoraParams p = finalAdapter(m, dir);
    ClassificationMetrics te = Evaluator.classify(m, p, testSet, 64, dev, threads);
    if (Math.abs(te.accuracy() - r.get("test_accuracy").getAsDouble()) > 1e-9) {
      System.err.printf(
          Locale.ROOT,
          "warning: %s: test accuracy %.6f now, %.6f in result.json%n",
          dir,
          te.accuracy(),
          r.get("test_accuracy").getAsDouble());
    }
    JsonObject out = r.deepCopy();
    putTestScores(out, te);
    byte[] b = out.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(dir.resolve("result.json"), w -> w.write(b));
    return out;
  }

  private static LoraParams finalAdapter(Manifest m, Path dir) throws IOException {
    Path adapter = dir.resolve("run").resolve(TrainingJob.ADAPTER);
    AdapterWeights a = Adapters.read(adapter, m);
    return LoraParams.of(m, a.tensors(), a, adapter.toString());
  }

  private static double number(JsonObject r, String key) {
    return r.has(key) ? r.get(key).getAsDouble() : Double.NaN;
  }

  /** Adds the final adapter's sharpness on the cell's validation set to its result.json. */
  private JsonObject measureSharpness(Manifest m, Path dir, JsonObject r, ExecutionDevice dev)
      throws IOException {
    Path valFile = dir.resolve("validation.jsonl");
    LoraParams p = finalAdapter(m, dir);
    List<JsonlDataset.Example> val = Examples.load(valFile, m, read.textOptions(model, m, valFile));
    if (sharpnessExamples > 0 && sharpnessExamples < val.size()) {
      val = val.subList(0, sharpnessExamples);
    }
    // strict fp32 on CUDA: the increases are small differences of losses
    ExecutionDevice strict = dev.withTf32(false).withPrecision(ExecutionDevice.Precision.FP32);
    Sharpness sh = Sharpness.measure(m, p, val, 64, 0.05, 3, 8, 0, strict, threads);
    JsonObject out = r.deepCopy();
    out.addProperty("sharpness_adversarial", sh.adversarialIncrease());
    out.addProperty("sharpness_random", sh.randomMeanIncrease());
    out.addProperty("sharpness_examples", val.size());
    byte[] b = out.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(dir.resolve("result.json"), w -> w.write(b));
    return out;
  }

  /**
   * The seed's training and validation lines: with --shots k, k per class each, disjoint, drawn
   * from --data; otherwise a --validation-fraction split of all of it.
   */
  private void sample(int seed, Path train, Path val) throws IOException {
    List<String> lines = new ArrayList<>();
    for (String l : Files.readAllLines(data, StandardCharsets.UTF_8)) {
      if (!l.isBlank()) {
        lines.add(l);
      }
    }
    SplittableRandom rnd = new SplittableRandom(1000L + seed);
    for (int i = lines.size() - 1; i > 0; i--) { // a seeded shuffle
      int j = rnd.nextInt(i + 1);
      String x = lines.get(i);
      lines.set(i, lines.get(j));
      lines.set(j, x);
    }
    List<String> tr = new ArrayList<>();
    List<String> va = new ArrayList<>();
    if (shots > 0) {
      Map<String, int[]> taken = new TreeMap<>();
      for (String l : lines) {
        int[] n = taken.computeIfAbsent(label(l), k -> new int[2]);
        if (n[0] < shots) {
          tr.add(l);
          n[0]++;
        } else if (n[1] < shots) {
          va.add(l);
          n[1]++;
        }
      }
    } else {
      int cut = (int) Math.round(lines.size() * (1 - validationFraction));
      tr.addAll(lines.subList(0, cut));
      va.addAll(lines.subList(cut, lines.size()));
    }
    Files.write(train, tr, StandardCharsets.UTF_8);
    Files.write(val, va, StandardCharsets.UTF_8);
  }

  private String label(String line) throws IOException {
    JsonObject o = JsonParser.parseString(line).getAsJsonObject();
    JsonElement e = o.has("labels") ? o.get("labels") : o.get(read.labelField);
    if (e == null) {
      throw new IOException(data + ": a line without labels or " + read.labelField + ": " + line);
    }
    return e.toString();
  }

  private void writeTable(Map<Cell, Outcome> results) throws IOException {
    StringBuilder b =
        new StringBuilder(
            "method,rho,sigma,lr,seed,validation_accuracy,test_accuracy,test_macro_f1,"
                + "seconds_per_step,sharpness_adversarial,sharpness_random\n");
    results.forEach(
        (c, r) -> {
          MethodSetting<Double> radius = radiusOf(c.method());
          b.append(
              String.format(
                  Locale.ROOT,
                  "%s,%s,%s,%s,%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.6g%n",
                  c.method(),
                  radius == MethodSetting.RHO ? num(c.radius()) : "",
                  radius == FlatLoraRwp.SIGMA ? num(c.radius()) : "",
                  num(c.lr()),
                  c.seed(),
                  r.validation(),
                  r.test(),
                  r.testMacroF1(),
                  r.secondsPerStep(),
                  r.sharpnessAdversarial(),
                  r.sharpnessRandom()));
        });
    byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(out.resolve("study.csv"), o -> o.write(bytes));
  }

  /** Each method's pick on validation, its test accuracy over seeds, and the paired test. */
  String summary(Map<Cell, Outcome> results) {
    Map<String, double[]> pick = picks(results, methods);
    double[] lora = testBySeed(results, "lora", pick.get("lora"));
    StringBuilder s = new StringBuilder();
    s.append(
        String.format(
            Locale.ROOT,
            "# Study: %s on %s (%s), %d seeds%s, %d steps%n%n",
            model.getFileName(),
            data.getFileName(),
            shots > 0 ? shots + " examples per class" : "full data",
            seeds,
            firstSeed > 0 ? " (" + firstSeed + "-" + (firstSeed + seeds - 1) + ")" : "",
            steps));
    s.append(
        "| method | rho / sigma | lr | validation acc | test acc (mean +- std) | vs LoRA | p (paired)"
            + " | test macro-F1 (mean +- std) | s/step |\n");
    s.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (String method : methods) {
      double[] c = pick.get(method);
      double[] t = testBySeed(results, method, c);
      double[] v = column(results, method, c, Outcome::validation);
      double[] sec = column(results, method, c, Outcome::secondsPerStep);
      double[] f1 = column(results, method, c, Outcome::testMacroF1);
      double[] diff = new double[t.length];
      for (int i = 0; i < t.length; i++) {
        diff[i] = t[i] - lora[i];
      }
      s.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %.4f | %.4f +- %.4f | %+.4f | %s | %.4f +- %.4f | %.3f |%n",
              method,
              shownRadius(method, c[0]),
              num(c[1]),
              mean(v),
              mean(t),
              std(t),
              mean(diff),
              method.equals("lora") ? "-" : shownP(signFlipP(diff)),
              mean(f1),
              std(f1),
              mean(sec)));
    }
    s.append(
        "\nEach method's radius (rho or sigma) and learning rate were chosen on mean validation"
            + " accuracy alone; p is"
            + " an exact two-sided sign-flip test of the per-seed test differences from LoRA's"
            + " pick (same seeds, same sampled data). Macro-F1 is the unweighted mean of the"
            + " classes' F1 on the test set, for the same picks.");
    int atOnce = results.values().stream().mapToInt(Outcome::cellsAtOnce).max().orElse(1);
    s.append(
        atOnce > 1
            ? " s/step is each run's wall time per step with up to "
                + atOnce
                + " cells training at once (--parallel), not one run's speed alone.\n"
            : "\n");
    List<double[]> pairs = new ArrayList<>();
    for (Outcome r : results.values()) {
      if (!Double.isNaN(r.sharpnessAdversarial())) {
        pairs.add(new double[] {r.sharpnessAdversarial(), r.test()});
      }
    }
    if (!pairs.isEmpty()) {
      s.append(
          "\nSharpness on validation (adversarial / random-direction loss increase, rho 0.05):");
      for (String method : methods) {
        double[] c = pick.get(method);
        double[] adversarial = measured(column(results, method, c, Outcome::sharpnessAdversarial));
        s.append(
            String.format(
                Locale.ROOT,
                " %s %.4g / %.4g%s;",
                method,
                mean(adversarial),
                mean(measured(column(results, method, c, Outcome::sharpnessRandom))),
                adversarial.length < seeds
                    ? " (measured on " + adversarial.length + " of " + seeds + " seeds)"
                    : ""));
      }
      s.append(
          String.format(
              Locale.ROOT,
              "%nKendall's tau between adversarial sharpness and test accuracy over %s: %.3f%n",
              pairs.size() == results.size()
                  ? "all " + pairs.size() + " runs"
                  : "the " + pairs.size() + " of " + results.size() + " runs measured",
              kendallTau(pairs)));
    }
    return s.toString();
  }

  /**
   * Each method's radius and learning rate with the highest mean validation accuracy over seeds
   * (ties: the first in the order of their "radius/lr" strings).
   *
   * @return method -> {radius, lr}, in the order of methods
   */
  static Map<String, double[]> picks(Map<Cell, Outcome> results, List<String> methods) {
    Map<String, double[]> pick = new LinkedHashMap<>();
    for (String method : methods) {
      pick.put(method, bestOnValidation(results, method, Double.NaN));
    }
    return pick;
  }

  /**
   * The {radius, lr} of a method's cells with the highest mean validation accuracy, among all its
   * cells (radius NaN) or those at one radius.
   */
  private static double[] bestOnValidation(
      Map<Cell, Outcome> results, String method, double radius) {
    Map<String, List<Double>> byConfig = new TreeMap<>();
    results.forEach(
        (c, r) -> {
          if (c.method().equals(method) && (Double.isNaN(radius) || c.radius() == radius)) {
            byConfig
                .computeIfAbsent(num(c.radius()) + "/" + num(c.lr()), k -> new ArrayList<>())
                .add(r.validation());
          }
        });
    String best =
        byConfig.entrySet().stream()
            .max(Comparator.comparingDouble(e -> mean(e.getValue())))
            .orElseThrow(() -> new IllegalStateException("study: no cells of " + method))
            .getKey();
    String[] p = best.split("/");
    return new double[] {Double.parseDouble(p[0]), Double.parseDouble(p[1])};
  }

  /**
   * One column of study.svg: a method at one radius, at the learning rate that did best at that
   * radius on mean validation accuracy, with its per-seed test accuracies.
   *
   * @param method the method
   * @param radius its rho or sigma (0 for LoRA)
   * @param lr the learning rate chosen at this radius
   * @param test test accuracy by seed
   * @param picked whether this is the method's pick in the summary
   */
  record Column(String method, double radius, double lr, double[] test, boolean picked) {
    double mean() {
      return StudyCommand.mean(test);
    }

    double std() {
      return StudyCommand.std(test);
    }
  }

  /**
   * The plot's columns: every method in order, and within it every radius of the grid in increasing
   * order.
   *
   * @param results each cell's outcome
   * @param methods the methods, LoRA among them
   * @param firstSeed the first seed
   * @param seeds the number of seeds
   * @return the columns
   */
  static List<Column> plotColumns(
      Map<Cell, Outcome> results, List<String> methods, int firstSeed, int seeds) {
    Map<String, double[]> pick = picks(results, methods);
    List<Column> cols = new ArrayList<>();
    for (String method : methods) {
      TreeMap<Double, Boolean> radii = new TreeMap<>();
      results.keySet().stream()
          .filter(c -> c.method().equals(method))
          .forEach(c -> radii.put(c.radius(), true));
      for (double radius : radii.keySet()) {
        double[] best = bestOnValidation(results, method, radius);
        double[] test = new double[seeds];
        for (int s = 0; s < seeds; s++) {
          test[s] = results.get(new Cell(method, best[0], best[1], firstSeed + s)).test();
        }
        double[] p = pick.get(method);
        cols.add(new Column(method, radius, best[1], test, p[0] == best[0] && p[1] == best[1]));
      }
    }
    return cols;
  }

  /**
   * study.svg: test accuracy per method and radius, each seed a grey dot, mean +- std in colour.
   */
  private Chart plot(List<Column> cols) {
    double[] range = plotRange(cols);
    Chart.Axis acc = new Chart.Axis("test accuracy", range[0], range[1], "%.3f", Chart.DARK_GREY);
    int n = cols.size();
    Chart chart = new Chart(Math.max(640, 150 * n + 140), 480, 2, -0.5, n - 0.5, acc, null);
    List<Chart.Tick> ticks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Column c = cols.get(i);
      MethodSetting<Double> r = radiusOf(c.method());
      String radius = r == null ? "" : nameOf(r) + " " + num(c.radius());
      String second =
          radius + (lrs.size() > 1 ? (radius.isEmpty() ? "" : ", ") + "lr " + num(c.lr()) : "");
      ticks.add(new Chart.Tick(i, c.method() + (c.picked() ? " *" : "") + "\n" + second));
    }
    chart.grid(ticks, "* each method's pick on validation; dashed: the mean of LoRA's pick");
    chart.caption(
        String.format(Locale.ROOT, "mean +- std over %d seeds; grey dots: each seed", seeds));
    cols.stream()
        .filter(c -> c.method().equals("lora") && c.picked())
        .forEach(c -> chart.dashedLevel(c.mean(), acc, Chart.PALETTE.get(0)));
    for (int i = 0; i < n; i++) {
      Column c = cols.get(i);
      String color = Chart.PALETTE.get(methods.indexOf(c.method()) % Chart.PALETTE.size());
      for (int s = 0; s < seeds; s++) {
        double dx = seeds > 1 ? 0.3 * ((double) s / (seeds - 1) - 0.5) : 0;
        chart.point(i + dx, c.test()[s], acc, Chart.LIGHT_GREY, 5);
      }
      chart.errorBar(
          i,
          Math.max(range[0], c.mean() - c.std()),
          Math.min(range[1], c.mean() + c.std()),
          acc,
          color);
      chart.point(i, c.mean(), acc, color, 10);
    }
    return chart;
  }

  /**
   * The plot's y range: every seed's accuracy and each column's mean +- std, where that stays
   * within [0, 1] (an error bar is cut at the axis: no accuracy lies beyond 1).
   *
   * @return {bottom, top}
   */
  static double[] plotRange(List<Column> cols) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (Column c : cols) {
      for (double v : c.test()) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      lo = Math.min(lo, Math.max(0, c.mean() - c.std()));
      hi = Math.max(hi, Math.min(1, c.mean() + c.std()));
    }
    return roundRange(lo, hi);
  }

  /**
   * A y range of {@link Chart#TICKS} equal divisions of a round size (0.005, 0.01, 0.02, 0.025,
   * 0.05, 0.1 or 0.25) that holds [lo, hi] with some room, within [0, 1] where it can (no room
   * above 1).
   *
   * @return {bottom, top}
   */
  static double[] roundRange(double lo, double hi) {
    for (double step : new double[] {0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25}) {
      // + 1e-9: (0.625 - 0.025) / 0.1 is 5.999..., and 0.6 would be missed
      double bottom = Math.floor((lo - step / 4) / step + 1e-9) * step;
      if (bottom < 0 && lo >= 0) {
        bottom = 0;
      }
      if (bottom + Chart.TICKS * step > 1 && hi <= 1) { // an accuracy axis ends at 1, not 1.1
        bottom = Math.max(0, 1 - Chart.TICKS * step);
      }
      double top = bottom + Chart.TICKS * step;
      if (top >= Math.min(hi + step / 4, 1)) {
        return new double[] {bottom, top};
      }
    }
    return new double[] {0, 1};
  }

  private double[] testBySeed(Map<Cell, Outcome> results, String method, double[] pick) {
    return column(results, method, pick, Outcome::test);
  }

  private double[] column(
      Map<Cell, Outcome> results, String method, double[] pick, ToDoubleFunction<Outcome> what) {
    double[] out = new double[seeds];
    for (int s = 0; s < seeds; s++) {
      out[s] = what.applyAsDouble(results.get(new Cell(method, pick[0], pick[1], firstSeed + s)));
    }
    return out;
  }

  /**
   * The exact two-sided sign-flip (paired permutation) p-value of the mean of the differences: the
   * share of the 2^n sign assignments whose |mean| is at least the observed one.
   *
   * @param d paired differences (n <= 20)
   * @return the p-value
   */
  static double signFlipP(double[] d) {
    int n = d.length;
    if (n > MAX_SEEDS) {
      throw new IllegalArgumentException(
          "sign-flip test: at most " + MAX_SEEDS + " seeds, got " + n);
    }
    double observed = Math.abs(sum(d)) - 1e-12;
    int extreme = 0;
    for (int mask = 0; mask < 1 << n; mask++) {
      double s = 0;
      for (int i = 0; i < n; i++) {
        s += (mask >> i & 1) == 1 ? -d[i] : d[i];
      }
      extreme += Math.abs(s) >= observed ? 1 : 0;
    }
    return (double) extreme / (1 << n);
  }

  /**
   * Kendall's tau-b of (x, y) pairs.
   *
   * @param xy the pairs
   * @return tau in [-1, 1] (NaN if every pair ties)
   */
  static double kendallTau(List<double[]> xy) {
    long concordant = 0;
    long discordant = 0;
    long tiesX = 0;
    long tiesY = 0;
    for (int i = 0; i < xy.size(); i++) {
      for (int j = i + 1; j < xy.size(); j++) {
        double dx = Math.signum(xy.get(i)[0] - xy.get(j)[0]);
        double dy = Math.signum(xy.get(i)[1] - xy.get(j)[1]);
        if (dx == 0 && dy == 0) {
          continue;
        } else if (dx == 0) {
          tiesX++;
        } else if (dy == 0) {
          tiesY++;
        } else if (dx == dy) {
          concordant++;
        } else {
          discordant++;
        }
      }
    }
    double n = concordant + discordant;
    return (concordant - discordant) / Math.sqrt((n + tiesX) * (n + tiesY));
  }

  private static double sum(double[] x) {
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return s;
  }

  /** The values that were measured (not NaN). */
  private static double[] measured(double[] x) {
    return java.util.Arrays.stream(x).filter(v -> !Double.isNaN(v)).toArray();
  }

  private static double mean(double[] x) {
    return sum(x) / x.length;
  }

  private static double mean(List<Double> x) {
    return x.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }

  private static double std(double[] x) {
    double m = mean(x);
    double s = 0;
    for (double v : x) {
      s += (v - m) * (v - m);
    }
    return x.length > 1 ? Math.sqrt(s / (x.length - 1)) : 0;
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
  }
}
