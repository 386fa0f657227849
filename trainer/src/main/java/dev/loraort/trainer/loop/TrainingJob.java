package dev.loraort.trainer.loop;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.config.RunSettings;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.Split;
import dev.loraort.trainer.eval.Evaluator;
import dev.loraort.trainer.graph.LossScaler;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.method.SharpnessMethod;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A whole training run: reads the model directory and data, sets up parameters and sessions, runs
 * the {@link StepLoop}, and writes the run directory: {@code adapter.onnx} (the trained tensors
 * under contract names, with metadata) and {@code run.json} (config, settings, provenance,
 * results). Both are written atomically at the end, so a failed run leaves an existing run
 * directory intact.
 */
public final class TrainingJob {
  /** The adapter file written into the run directory. */
  public static final String ADAPTER = "adapter.onnx";

  /** The run record written into the run directory. */
  public static final String RUN_JSON = "run.json";

  /** The adapter metadata key of the class names (a JSON array), when the data named them. */
  public static final String LABELS = "labels";

  /**
   * @param a an adapter
   * @return the class names it was trained with (--labels), or null
   */
  public static List<String> labelNames(AdapterWeights a) {
    String json = a.metadata().get(LABELS);
    return json == null ? null : List.of(new com.google.gson.Gson().fromJson(json, String[].class));
  }

  /** The class names of the run's text data (--labels), or null. */
  private static List<String> labelNames(Inputs in) {
    return in.text() == null ? null : in.text().fields().labelNames();
  }

  /** The best evaluation's adapter in a run directory (--save-best). */
  public static final String BEST_ADAPTER = "adapter_best.onnx";

  private static final Gson GSON =
      new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

  /**
   * What to train on.
   *
   * @param modelDir the model directory
   * @param modelLabel how provenance names it
   * @param data the training data (pre-tokenized JSONL, text, or IDX images)
   * @param init an adapter to start from (adapter.onnx or .safetensors with contract names), or
   *     null
   * @param text how to read text and images, or null for pre-tokenized data
   * @param evalData data to evaluate on during training, or null
   * @param validationFraction without evalData: the share of the (deduplicated) data held out for
   *     evaluation, 0 for none
   * @param splitSeed the seed of that split (apart from the run seed, so every run of a comparison
   *     sees the same split)
   * @param padToMultipleOf training batches' sequence lengths are rounded up to a multiple of this
   *     (1: each batch's longest example)
   */
  public record Inputs(
      Path modelDir,
      String modelLabel,
      Path data,
      Path init,
      Examples.TextOptions text,
      Path evalData,
      double validationFraction,
      long splitSeed,
      int padToMultipleOf) {
    /** Checks that the validation comes from one place. */
    public Inputs {
      if (evalData != null && validationFraction > 0) {
        throw new IllegalArgumentException(
            "give evaluation data or a validation fraction, not both");
      }
      if (padToMultipleOf < 1) {
        throw new IllegalArgumentException(
            "--pad-to-multiple-of must be >= 1, got " + padToMultipleOf);
      }
    }

    /**
     * Inputs with pre-tokenized data.
     *
     * @param modelDir the model directory
     * @param modelLabel how provenance names it
     * @param data the JSONL file
     * @param init an adapter to start from, or null
     */
    public Inputs(Path modelDir, String modelLabel, Path data, Path init) {
      this(modelDir, modelLabel, data, init, null, null, 0, 0, 1);
    }
  }

  /** The examples a run trains and evaluates on. */
  private record Data(
      List<JsonlDataset.Example> train, List<JsonlDataset.Example> validation, int duplicates) {
    static Data load(Inputs in, Manifest m) throws IOException {
      List<JsonlDataset.Example> all = Examples.load(in.data(), m, in.text());
      if (in.evalData() != null) {
        return new Data(all, Examples.load(in.evalData(), m, in.text()), 0);
      }
      if (in.validationFraction() > 0) {
        Split<JsonlDataset.Example> s =
            Examples.split(all, in.validationFraction(), in.splitSeed());
        return new Data(s.train(), s.validation(), s.duplicates());
      }
      return new Data(all, List.of(), 0);
    }
  }

  private TrainingJob() {}

  /**
   * Runs training and writes the run directory.
   *
   * @param <S> the method's state
   * @param in model, data and initial adapter
   * @param cfg what to train and how
   * @param settings device, threads, output
   * @param method the method
   * @param log where progress lines go
   * @return the loop's result
   * @throws IOException if an input is invalid or an output cannot be written
   */
  public static <S> StepLoop.Result run(
      Inputs in, TrainConfig cfg, RunSettings settings, SharpnessMethod<S> method, PrintStream log)
      throws IOException {
    Manifest m = Manifest.read(in.modelDir());
    return train(in, m, withModelDropout(cfg, m), settings, method, log);
  }

  /**
   * The run's LoRA dropout: the one asked for, else the one the model was prepared with (none for
   * graphs without the dropout branch, which cannot drop anything).
   */
  static TrainConfig withModelDropout(TrainConfig cfg, Manifest m) {
    Double prepared = m.lora().dropout();
    if (cfg.loraDropout() == null) {
      return prepared == null ? cfg : cfg.withLoraDropout(prepared);
    }
    if (cfg.loraDropout() > 0 && prepared == null) {
      throw new IllegalArgumentException(
          "--lora-dropout "
              + cfg.loraDropout()
              + ": the train graphs of "
              + m.dir()
              + " have no dropout branch; prepare the model with prepare --lora-dropout P");
    }
    return cfg;
  }

  private static <S> StepLoop.Result train(
      Inputs in,
      Manifest m,
      TrainConfig cfg,
      RunSettings settings,
      SharpnessMethod<S> method,
      PrintStream log)
      throws IOException {
    if (settings.devices().size() > cfg.batchSize()) {
      throw new IllegalArgumentException(
          "--batch-size "
              + cfg.batchSize()
              + " is smaller than the "
              + settings.devices().size()
              + " devices "
              + settings.devices()
              + ": each device trains on a share of every batch, so it needs at least one example;"
              + " raise --batch-size or give fewer devices");
    }
    cfg.patterns()
        .requireMatches(
            m.lora().modules().stream().map(Manifest.LoraModule::name).toList(),
            m.dir().toString());
    claimRunDirectory(settings);
    SplittableRandom root = new SplittableRandom(cfg.seed());
    SplittableRandom initRng = root.split(); // one stream per purpose: adding one shifts no other
    long shuffleSeed = root.split().nextLong();
    SplittableRandom methodRng = root.split();
    LoraParams params =
        in.init() == null ? LoraParams.init(m, cfg, initRng) : startFrom(m, in.init(), cfg);
    Data examples = Data.load(in, m);
    if (examples.duplicates() > 0 || !examples.validation().isEmpty()) {
      log.printf(
          "data: %d training, %d validation examples (%d duplicates dropped)%n",
          examples.train().size(), examples.validation().size(), examples.duplicates());
    }
    Batcher data =
        new Batcher(examples.train(), m, cfg.batchSize(), shuffleSeed, in.padToMultipleOf());
    Provenance provenance = Provenance.of(m, in.modelLabel());
    Path checkpoint = settings.out().resolve(Checkpoint.FILE);
    Checkpoint resume = settings.resume() ? resumable(checkpoint, cfg) : null;
    startSegment(settings.out(), resume == null ? 0 : resume.step());
    StepLoop.Result result;
    LossScaler scaler;
    List<StepListener> listeners = new ArrayList<>();
    if (settings.saveBest() != null && examples.validation().isEmpty()) {
      throw new IllegalArgumentException(
          "--save-best needs evaluation data: --eval-data FILE or --validation-fraction F");
    }
    BestAdapter best =
        settings.saveBest() == null
            ? null
            : new BestAdapter(
                settings.saveBest(),
                settings.earlyStopping(),
                p ->
                    Adapters.write(
                        settings.out().resolve(BEST_ADAPTER),
                        AdapterFormat.ONNX,
                        adapter(m, p, cfg, provenance, labelNames(in)),
                        m),
                log);
    try (ModelGraphs graphs =
            ModelGraphs.open(m, settings.devices(), settings.threads(), method.usesRwpGraph());
        Evaluator evaluator =
            examples.validation().isEmpty()
                ? null
                : Evaluator.open(
                    m,
                    examples.validation(),
                    cfg.batchSize(),
                    settings.devices().get(0),
                    settings.threads());
        MetricsLog metrics = new MetricsLog(settings.out());
        ProgressReporter progress = new ProgressReporter(settings.progressBar(), log);
        TraceWriter trace =
            settings.trace() == null
                ? null
                : new TraceWriter(settings.trace(), resume == null ? 0 : resume.step())) {
      listeners.add(progress);
      listeners.add(metrics);
      if (trace != null) {
        listeners.add(trace);
      }
      Evaluation evaluation =
          evaluator == null
              ? null
              : new Evaluation(
                  settings.evalEvery() > 0 ? settings.evalEvery() : Long.MAX_VALUE,
                  evaluator::metrics,
                  best == null ? (step, scores, scored) -> true : best);
      result =
          StepLoop.run(
              graphs,
              method,
              params,
              data,
              cfg,
              new StepLoop.Options(
                  methodRng,
                  Map.of(),
                  listeners,
                  resume,
                  checkpoint,
                  settings.checkpointEvery(),
                  evaluation,
                  settings.lossSpike()));
      scaler = graphs.lossScaler();
    } catch (TrainingDiverged e) { // the listeners have closed: curves.svg and the logs are written
      throw new TrainingDiverged(
          e.getMessage() + ". " + leftOnDisk(settings, e.lastCheckpoint()), e.lastCheckpoint());
    }
    Adapters.write(
        settings.out().resolve(ADAPTER),
        AdapterFormat.ONNX,
        adapter(m, result.params(), cfg, provenance, labelNames(in)),
        m);
    writeRunJson(
        settings.out().resolve(RUN_JSON),
        in,
        examples,
        cfg,
        settings,
        provenance,
        result,
        scaler,
        best);
    return result;
  }

  /**
   * Reads an adapter to start from, in any format ({@link Adapters#read}).
   *
   * @param m the manifest
   * @param file the adapter
   * @param cfg the config (it gives the scales; its ranks, --rank-pattern's included, must match
   *     the file's)
   * @return the parameters
   * @throws IOException if the file is unreadable or does not fit the model
   */
  public static LoraParams startFrom(Manifest m, Path file, TrainConfig cfg) throws IOException {
    AdapterWeights a = Adapters.read(file, m);
    for (Manifest.LoraModule mod : m.lora().modules()) {
      if (a.rank(mod.name()) != cfg.rank(mod.name())) {
        throw new IOException(
            file
                + ": the adapter has rank "
                + a.rank(mod.name())
                + " at "
                + mod.name()
                + " but --rank "
                + cfg.rank()
                + (cfg.rankPattern().isEmpty() ? "" : " and --rank-pattern " + cfg.rankPattern())
                + " give "
                + cfg.rank(mod.name()));
      }
    }
    return LoraParams.of(m, a.tensors(), cfg, file.toString());
  }

  /**
   * The trained parameters as a format-independent adapter, with provenance metadata.
   *
   * @param m the manifest
   * @param p the parameters
   * @param cfg the config (method, alpha)
   * @param prov provenance
   * @return the adapter
   */
  public static AdapterWeights adapter(
      Manifest m, LoraParams p, TrainConfig cfg, Provenance prov, List<String> labels) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("contract", Manifest.CONTRACT);
    meta.put("method", cfg.method().id());
    if (cfg.loraDropout() != null) {
      meta.put("lora_dropout", cfg.loraDropout().toString());
    }
    meta.put("base_model_id", m.id());
    if (labels != null) {
      meta.put(LABELS, new com.google.gson.Gson().toJson(labels)); // names in class order
    }
    prov.files().forEach((f, sha) -> meta.put("sha256:" + f, sha));
    meta.put("trainer", "lora-ort " + prov.trainer());
    return new AdapterWeights(
        p.tree().tensors(), p.rank(), cfg.alpha(), p.scale(), cfg.rsLora(), cfg.patterns(), meta);
  }

  /**
   * The config as JSON, with the method's settings and id: what run.json and checkpoints record.
   *
   * @param cfg the config
   * @return compact JSON
   */
  public static String configJson(TrainConfig cfg) {
    JsonObject config = GSON.toJsonTree(cfg).getAsJsonObject();
    // without patterns the JSON is what it was before they existed: older checkpoints resume
    for (String k : new String[] {"rankPattern", "alphaPattern"}) {
      if (config.getAsJsonObject(k).size() == 0) {
        config.remove(k);
      }
    }
    JsonObject method = GSON.toJsonTree(cfg.method()).getAsJsonObject();
    method.addProperty("id", cfg.method().id());
    config.add("method", method);
    return config.toString();
  }

  /**
   * A run directory holds one run: an existing one is continued (--resume) or replaced
   * (--overwrite), never written over silently. Replacing removes only the old run's TensorBoard
   * events at the start; its adapter, run.json and checkpoint stay until the new run writes its own
   * (a resume in between continues the old run, which the checkpoint's config then names).
   * Temporary files a killed run left behind are removed.
   */
  /**
   * Refuses a run directory that holds a run, unless the settings resume or overwrite it; touches
   * nothing (the CLI asks before it says what it will train).
   *
   * @param s the run's settings
   * @return true if the directory holds a run
   * @throws IOException naming the files, if it holds one and neither is asked for
   */
  public static boolean checkRunDirectory(RunSettings s) throws IOException {
    Path out = s.out();
    List<String> run = new ArrayList<>();
    for (String f : new String[] {RUN_JSON, ADAPTER, Checkpoint.FILE}) {
      if (Files.exists(out.resolve(f))) {
        run.add(f);
      }
    }
    if (!run.isEmpty() && !s.resume() && !s.overwrite()) {
      throw new IOException(
          out
              + " holds a run ("
              + String.join(", ", run)
              + "): pass --resume to continue it, --overwrite to replace it, or another --out");
    }
    return !run.isEmpty();
  }

  private static void claimRunDirectory(RunSettings s) throws IOException {
    Path out = s.out();
    if (!Files.isDirectory(out)) {
      return;
    }
    AtomicFiles.removeStaleTemporaries(out);
    if (!checkRunDirectory(s) || s.resume()) {
      return;
    }
    Files.deleteIfExists(out.resolve(SEGMENTS)); // the old run's log of invocations
    try (var files = Files.list(out)) { // TensorBoard would show the old run beside the new
      for (Path p : files.toList()) {
        if (p.getFileName().toString().startsWith(TensorBoardEvents.PREFIX)) {
          Files.delete(p);
        }
      }
    }
  }

  /** The run's log of its invocations: one line per start (a resumed or killed run has several). */
  static final String SEGMENTS = "segments.jsonl";

  /** Appends this invocation's start to the run's segment log. */
  private static void startSegment(Path out, long fromStep) throws IOException {
    Files.createDirectories(out);
    JsonObject o = new JsonObject();
    o.addProperty("from_step", fromStep);
    o.addProperty("started", java.time.Instant.now().toString());
    Files.writeString(
        out.resolve(SEGMENTS),
        o + "\n",
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
  }

  /**
   * Every invocation that trained this run, from the segment log: where each began, and where it
   * ended (the next one's start: a killed invocation's steps after its last checkpoint are redone).
   */
  private static com.google.gson.JsonArray segments(Path out, StepLoop.Result r)
      throws IOException {
    List<JsonObject> starts = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve(SEGMENTS), StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        starts.add(JsonParser.parseString(line).getAsJsonObject());
      }
    }
    com.google.gson.JsonArray a = new com.google.gson.JsonArray();
    for (int i = 0; i < starts.size(); i++) {
      JsonObject s = starts.get(i).deepCopy();
      long from = s.get("from_step").getAsLong();
      boolean last = i == starts.size() - 1;
      s.addProperty(
          "to_step", last ? from + r.steps() : starts.get(i + 1).get("from_step").getAsLong());
      if (last) {
        s.addProperty("seconds", r.seconds());
      }
      a.add(s);
    }
    return a;
  }

  /** What a stopped run left in its directory, for the message that says it stopped. */
  private static String leftOnDisk(RunSettings s, long lastCheckpoint) {
    Path out = s.out();
    String kept =
        lastCheckpoint >= 0
            ? "Kept: "
                + out.resolve(Checkpoint.FILE)
                + " from step "
                + lastCheckpoint
                + " (--resume continues from it; lower --lr first)"
            : "No checkpoint of this run was written";
    String logs =
        "; "
            + (Files.exists(out.resolve(MetricsLog.CHART)) ? MetricsLog.CHART + ", " : "")
            + (Files.exists(out.resolve(MetricsLog.CSV)) ? MetricsLog.CSV + ", " : "")
            + "the TensorBoard events"
            + (s.trace() != null ? " and " + s.trace() : "")
            + " show the steps up to the stop";
    return kept
        + logs
        + ". Not written: "
        + ADAPTER
        + " and "
        + RUN_JSON
        + " (any from an earlier run stay as they were)";
  }

  private static Checkpoint resumable(Path file, TrainConfig cfg) throws IOException {
    Checkpoint c = Checkpoint.read(file);
    JsonObject saved = JsonParser.parseString(c.configJson()).getAsJsonObject();
    JsonObject now = JsonParser.parseString(configJson(cfg)).getAsJsonObject();
    // compared as text: the patterns' order is part of them (the first matching key wins)
    if (!saved.toString().equals(now.toString())) {
      List<String> diff = new ArrayList<>();
      java.util.Set<String> keys = new java.util.LinkedHashSet<>(saved.keySet());
      keys.addAll(now.keySet());
      for (String k : keys) {
        if (!String.valueOf(saved.get(k)).equals(String.valueOf(now.get(k)))) {
          diff.add(k + " " + saved.get(k) + " -> " + now.get(k));
        }
      }
      throw new IOException(
          file
              + " belongs to a run with other settings ("
              + String.join("; ", diff)
              + "); resume with the same options");
    }
    return c;
  }

  /**
   * @param s the settings
   * @return the devices as run.json and the log name them: one, or several joined by commas
   */
  public static String devices(RunSettings s) {
    return String.join(",", s.devices().stream().map(Object::toString).toList());
  }

  private static void writeRunJson(
      Path path,
      Inputs in,
      Data examples,
      TrainConfig cfg,
      RunSettings s,
      Provenance prov,
      StepLoop.Result r,
      LossScaler scaler,
      BestAdapter best)
      throws IOException {
    JsonObject o = new JsonObject();
    o.add("config", JsonParser.parseString(configJson(cfg)));
    JsonObject settings = new JsonObject();
    settings.addProperty("device", devices(s));
    settings.addProperty("threads", s.threads());
    settings.addProperty("out", s.out().toString());
    settings.addProperty("trace", s.trace() == null ? null : s.trace().toString());
    settings.addProperty("data", in.data().toString());
    settings.addProperty("init", in.init() == null ? null : in.init().toString());
    o.add("settings", settings);
    JsonObject data = new JsonObject();
    data.addProperty("train_examples", examples.train().size());
    data.addProperty("validation_examples", examples.validation().size());
    data.addProperty("validation", in.evalData() != null ? in.evalData().toString() : null);
    data.addProperty("validation_fraction", in.validationFraction());
    data.addProperty("split_seed", in.splitSeed());
    data.addProperty("duplicates_dropped", examples.duplicates());
    data.addProperty("pad_to_multiple_of", in.padToMultipleOf());
    if (labelNames(in) != null) {
      data.add(LABELS, GSON.toJsonTree(labelNames(in)));
    }
    o.add("data", data);
    o.add("provenance", GSON.toJsonTree(prov));
    JsonObject res = new JsonObject();
    res.addProperty("steps", r.steps());
    res.add("segments", segments(s.out(), r));
    res.addProperty("first_loss", r.firstLoss());
    res.addProperty("last_loss", r.lastLoss());
    res.addProperty("seconds", r.seconds());
    if (scaler != null) {
      res.addProperty("final_loss_scale", scaler.scale());
      res.addProperty("runs_repeated_after_overflow", scaler.overflows());
    }
    res.addProperty("adapter", ADAPTER);
    if (best != null && best.bestStep() >= 0) {
      JsonObject b = new JsonObject();
      b.addProperty("metric", best.metric());
      b.addProperty("value", best.best());
      b.addProperty("step", best.bestStep());
      b.addProperty("adapter", BEST_ADAPTER);
      res.add("best", b);
    }
    o.add("result", res);
    byte[] bytes = GSON.toJson(o).getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(path, out -> out.write(bytes));
  }
}
