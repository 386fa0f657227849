package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.kernels.BoundRun;
import dev.loraort.trainer.api.BundledModel;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.ExecutionDevice.Precision;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.loop.StepListener;
import dev.loraort.trainer.loop.StepLoop;
import dev.loraort.trainer.loop.StepRecord;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.method.SharpnessMethod;
import dev.loraort.trainer.params.LoraParams;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code lora-trainer bench}: each method's step time on one model, measured in one process and
 * reported as ratios to plain LoRA, with the share of a step spent on the host (outside graph runs)
 * and inside the method's own math. Methods take turns within each round, so drift of the machine
 * spreads over all of them.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description =
        "Times every method's training step on one model and device; prints medians and ratios to"
            + " lora. Host phases of a short run include the JVM heap's first-touch page faults,"
            + " which a long run stops paying: java -XX:+AlwaysPreTouch shows the steady state.")
final class BenchCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      description = "model directory; default: the bundled tiny-roberta-cls")
  Path model;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      description = "JSONL data; default: the model's sample/train.jsonl")
  Path data;

  @Option(names = "--methods", split = ",", description = "methods to time (default: all)")
  List<String> methods = Methods.IDS;

  @Option(
      names = "--steps",
      description = "timed steps per method and round (default: ${DEFAULT-VALUE})")
  int steps = 30;

  @Option(names = "--warmup", description = "untimed steps first (default: ${DEFAULT-VALUE})")
  int warmup = 5;

  @Option(
      names = "--rounds",
      description = "rounds; each times every method once (default: ${DEFAULT-VALUE})")
  int rounds = 3;

  @Option(names = "--batch-size", description = "examples per batch (default: ${DEFAULT-VALUE})")
  int batchSize = 16;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Mixin TrainGraphOptions trainGraph = new TrainGraphOptions();

  @Option(
      names = "--tf32",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description = "CUDA: TF32")
  boolean tf32;

  @Option(
      names = "--fp16",
      description =
          "CUDA: also time each method in fp16 mixed precision (the model's train_fp16 graph)")
  boolean fp16;

  @Option(
      names = "--bf16",
      description =
          "CUDA: also time each method in bf16 mixed precision (the model's train_bf16 graph, which"
              + " prepare writes)")
  boolean bf16;

  @Option(names = "--threads", description = "CPU intra-op threads, 0 = all cores")
  int threads;

  @Option(
      names = "--ort-profile",
      paramLabel = "DIR",
      description =
          "write ONNX Runtime's profile of every session here (JSON per method and round; large:"
              + " use few steps), and beside each the graph ONNX Runtime ran after its"
              + " optimizations (the profile's node names are that graph's; weights in a file"
              + " beside it)")
  Path ortProfile;

  @Override
  public Integer call() throws Exception {
    Path dir = model != null ? model : BundledModel.extract();
    Manifest m = Manifest.read(dir);
    List<JsonlDataset.Example> examples = JsonlDataset.read(BundledModel.dataFile(dir, data), m);
    ExecutionDevice dev = trainGraph.on(ExecutionDevice.parse(device, tf32));
    List<Precision> precisions = new ArrayList<>(List.of(Precision.FP32));
    if (fp16) {
      precisions.add(Precision.FP16);
    }
    if (bf16) {
      precisions.add(Precision.BF16);
    }
    List<Run> runs = new ArrayList<>();
    precisions.forEach(p -> methods.forEach(x -> runs.add(new Run(x, p))));
    Map<Run, List<StepRecord>> timed = new LinkedHashMap<>();
    Map<Run, List<StepRecord>> firstRound = new LinkedHashMap<>();
    Map<Run, Double> gcSeconds = new LinkedHashMap<>();
    Map<Run, String> scales = new LinkedHashMap<>();
    Map<Run, long[]> memory = new LinkedHashMap<>(); // round 0: before, open, after the steps
    String noMemory = dev.cuda() ? BoundRun.unavailableReason() : null; // null: read (or CPU)
    Map<Run, Long> peakRss = new LinkedHashMap<>(); // CPU, round 0: the process's peak per run
    runs.forEach(x -> timed.put(x, new ArrayList<>()));
    for (int round = 0; round < rounds; round++) {
      for (int i = 0; i < runs.size(); i++) {
        Run run = runs.get((i + round) % runs.size()); // rotate the order each round
        String id = run.method();
        TrainConfig cfg =
            TrainArgs.parse(
                List.of(
                    "--method",
                    id,
                    "--steps",
                    Integer.toString(warmup + steps),
                    "--batch-size",
                    Integer.toString(batchSize)));
        SharpnessMethod<?> method = Methods.create(cfg.method());
        LoraParams p = LoraParams.init(m, cfg, new SplittableRandom(round));
        Path profile = null;
        if (ortProfile != null) {
          Files.createDirectories(ortProfile);
          profile = ortProfile.resolve(run.label().replace(' ', '-') + "-round" + round);
        }
        long[] mem = new long[3];
        boolean readMemory = round == 0 && dev.cuda() && noMemory == null;
        if (readMemory) {
          mem[0] = BoundRun.deviceMemoryUsed(dev.deviceId());
        }
        boolean readRss = round == 0 && !dev.cuda() && ProcessMemory.resetPeak();
        try (ModelGraphs g =
            ModelGraphs.open(
                m, dev.withPrecision(run.precision()), threads, method.usesRwpGraph(), profile)) {
          if (readMemory) {
            mem[1] = BoundRun.deviceMemoryUsed(dev.deviceId());
          }
          List<StepRecord> rec = new ArrayList<>();
          long[] gcAtWarm = new long[1];
          StepListener gcMark =
              r -> {
                if (r.step() == warmup) {
                  gcAtWarm[0] = gcMillis();
                }
              };
          StepLoop.run(
              g,
              method,
              p,
              new Batcher(examples, m, batchSize, round),
              cfg,
              StepLoop.Options.of(new SplittableRandom(round), List.of(rec::add, gcMark)));
          timed.get(run).addAll(rec.subList(warmup, rec.size()));
          if (round == 0) {
            firstRound.put(run, rec);
          }
          gcSeconds.merge(run, (gcMillis() - gcAtWarm[0]) / 1e3, Double::sum);
          if (readMemory) {
            mem[2] = BoundRun.deviceMemoryUsed(dev.deviceId());
            memory.put(run, mem);
          }
          if (readRss) {
            ProcessMemory.peakBytes().ifPresent(b -> peakRss.put(run, b));
          }
          if (g.lossScaler() != null) {
            scales.put(
                run,
                String.format(
                    Locale.ROOT,
                    "loss scale %.0f, %d runs repeated after an overflow",
                    g.lossScaler().scale(),
                    g.lossScaler().overflows()));
          }
        }
      }
    }
    System.out.printf(
        Locale.ROOT,
        "%s on %s, batch %d, %d rounds x %d timed steps (after %d warm-up) per method%n",
        m.id(),
        dev,
        batchSize,
        rounds,
        steps,
        warmup);
    System.out.printf(
        Locale.ROOT,
        "%-16s %9s %8s %6s %6s | host ms: %7s %7s %7s %7s %7s %7s%n",
        "method",
        "step ms",
        "vs lora",
        "host",
        "gc",
        "total",
        "copies",
        "method",
        "optim",
        "data",
        "other");
    for (Map.Entry<Run, List<StepRecord>> e : timed.entrySet()) {
      List<StepRecord> r = e.getValue();
      double s = median(r, StepRecord::seconds);
      Run base = new Run("lora", e.getKey().precision()); // ratios within one precision
      double lora =
          timed.containsKey(base) ? median(timed.get(base), StepRecord::seconds) : Double.NaN;
      System.out.printf(
          Locale.ROOT,
          "%-16s %9.2f %7.2fx %5.1f%% %5.1f%% | %17.2f %7.2f %7.2f %7.2f %7.2f %7.2f%n",
          e.getKey().label(),
          s * 1e3,
          s / lora,
          100 * median(r, x -> x.times().host()) / s,
          100 * gcSeconds.get(e.getKey()) / (r.size() * s),
          1e3 * median(r, x -> x.times().host()),
          1e3 * median(r, x -> x.times().copies()),
          1e3 * median(r, x -> x.times().method()),
          1e3 * median(r, x -> x.times().optimizer()),
          1e3 * median(r, x -> x.times().data()),
          1e3 * median(r, x -> x.times().other()));
    }
    System.out.println(
        "host = outside ONNX Runtime's run calls; gc = JVM collection pauses during the timed"
            + " steps; data = waiting for the step's batches (built ahead on another thread);"
            + " phases are medians, so they need not add up to the total");
    if (!memory.isEmpty()) {
      System.out.println(
          "GPU memory in use on the device, MiB (the CUDA driver's view, as nvidia-smi's; round"
              + " 0): before the session (the first includes the CUDA context), + opening it"
              + " (weights, kernel modules, handles), + the steps (activations, workspaces, bound"
              + " buffers, CUDA graphs) = at the end");
      memory.forEach(
          (run, v) ->
              System.out.printf(
                  Locale.ROOT,
                  "  %-16s %8.0f + %8.0f + %8.0f = %8.0f%n",
                  run.label(),
                  v[0] / MIB,
                  (v[1] - v[0]) / MIB,
                  (v[2] - v[1]) / MIB,
                  v[2] / MIB));
    } else if (noMemory != null) {
      System.out.println("GPU memory not read: " + noMemory);
    }
    if (!peakRss.isEmpty()) {
      System.out.println(
          "process peak resident memory during each run, MiB (Linux VmHWM, reset as its session"
              + " opened; round 0; the JVM's heap and ONNX Runtime's arena together):");
      peakRss.forEach(
          (run, b) -> System.out.printf(Locale.ROOT, "  %-16s %8.0f%n", run.label(), b / MIB));
    }
    for (Precision mixed : precisions.subList(1, precisions.size())) {
      // round 0 of every precision starts from the same parameters and batches: how far apart
      System.out.println(
          mixed.label() + " mixed precision vs fp32 (round 0, same start and batches):");
      for (String id : methods) {
        List<StepRecord> a = firstRound.get(new Run(id, Precision.FP32));
        List<StepRecord> b = firstRound.get(new Run(id, mixed));
        StepRecord a1 = a.get(0);
        StepRecord b1 = b.get(0);
        System.out.printf(
            Locale.ROOT,
            "  %-16s step 1: loss %.6f vs %.6f (rel %.1e), grad norm %.5g vs %.5g (rel %.1e);"
                + " step %d loss %.5f vs %.5f; %s%n",
            id,
            b1.loss(),
            a1.loss(),
            Math.abs(b1.loss() - a1.loss()) / Math.abs(a1.loss()),
            b1.gradNorm(),
            a1.gradNorm(),
            Math.abs(b1.gradNorm() - a1.gradNorm()) / a1.gradNorm(),
            a.size(),
            b.get(b.size() - 1).loss(),
            a.get(a.size() - 1).loss(),
            scales.getOrDefault(new Run(id, mixed), "no loss scaling"));
      }
    }
    return 0;
  }

  private static final double MIB = 1 << 20;

  /** One timed configuration: a method in fp32 (TF32 per --tf32) or in mixed precision. */
  private record Run(String method, Precision precision) {
    String label() {
      return precision == Precision.FP32 ? method : method + " " + precision.label();
    }
  }

  /** Collection time so far, over every collector of this JVM. */
  private static long gcMillis() {
    return ManagementFactory.getGarbageCollectorMXBeans().stream()
        .mapToLong(GarbageCollectorMXBean::getCollectionTime)
        .sum();
  }

  private static double median(
      List<StepRecord> r, java.util.function.ToDoubleFunction<StepRecord> f) {
    double[] v = r.stream().mapToDouble(f).toArray();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : 0.5 * (v[v.length / 2 - 1] + v[v.length / 2]);
  }
}
