package dev.loraort.trainer.cli;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.FixtureCheck;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.graph.TrainGraphChecks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code lora-trainer check}: a model directory's graphs against its fixture, against finite
 * differences, or against another directory's graphs, on this machine.
 */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Checks a model directory's graphs: against its fixture's PyTorch values (default), against"
          + " finite differences of their own loss (--finite-differences: any directory, prepared"
          + " ones included), or against another directory's train graph of the same model"
          + " (--against). Exit status 1 if a check fails.%n"
    })
final class CheckCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      required = true,
      description = "the model directory")
  Path model;

  @Option(
      names = "--finite-differences",
      description =
          "for each LoRA and head tensor, along its gradient g (d = g / |g|): (L(p + h d) - L(p -"
              + " h d)) / 2h against |g|")
  boolean finiteDifferences;

  @Option(
      names = "--against",
      paramLabel = "DIR",
      description =
          "compare the loss and every gradient with this directory's train graph (the same"
              + " directory with --kernels fused: the fused graph against the plain one)")
  Path against;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      description = "the batch for --finite-differences and --against (default: the fixture's)")
  Path data;

  @Mixin DataOptions read = new DataOptions();

  @Option(
      names = "--batch-size",
      description = "examples in that batch (default: ${DEFAULT-VALUE})")
  int batchSize = 4;

  @Option(
      names = "--tolerance",
      description =
          "largest error allowed: relative to the reference's largest value with --against"
              + " (default 1e-5; 1e-1 with --bf16), relative to the derivative with"
              + " --finite-differences (default 2e-2, float32's resolution)")
  Double tolerance;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Mixin TrainGraphOptions trainGraph = new TrainGraphOptions();

  @Option(
      names = "--tf32",
      negatable = true,
      defaultValue = "false",
      fallbackValue = "true",
      description = "CUDA: allow TF32 (off here: the tolerances are fp32's)")
  boolean tf32;

  @Option(
      names = "--bf16",
      description =
          "CUDA: check the directory's bf16 graph (train_bf16; train_fused_bf16 with the fused"
              + " kernels) against the float32 train graph of --against, within 1e-1 of each"
              + " output's largest value unless --tolerance says otherwise (bf16 keeps 8"
              + " significant bits)")
  boolean bf16;

  @Option(names = "--threads", description = "CPU intra-op threads, 0 = all cores")
  int threads;

  @Override
  public Integer call() throws Exception {
    if (bf16 && against == null) {
      throw new IllegalArgumentException(
          "--bf16 compares the bf16 graph with a float32 one: give --against DIR (the same"
              + " directory compares it with its own train.onnx)");
    }
    Manifest m = Manifest.read(model);
    ExecutionDevice fp32 = trainGraph.on(ExecutionDevice.parse(device, tf32));
    ExecutionDevice dev = bf16 ? fp32.withPrecision(ExecutionDevice.Precision.BF16) : fp32;
    if (!finiteDifferences && against == null) {
      return fixture(m, dev);
    }
    Map<String, Tensor> feeds = batch(m);
    feeds.putAll(TrainGraphChecks.params(m, 0));
    List<String> params = new ArrayList<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      params.add(TensorNames.loraA(mod.name()));
      params.add(TensorNames.loraB(mod.name()));
    }
    m.trainable().forEach(t -> params.add(t.name()));
    int bad = 0;
    try (ModelGraphs g = ModelGraphs.open(m, dev, threads, false);
        GraphSession lossOnly = finiteDifferences ? ModelGraphs.openLoss(m, dev, threads) : null) {
      if (finiteDifferences) {
        double tol = tolerance != null ? tolerance : 2e-2;
        double worst = 0;
        for (TrainGraphChecks.Row r :
            TrainGraphChecks.finiteDifferences(g.train(), lossOnly, feeds, params, 1e-2, 1)) {
          worst = Math.max(worst, r.error());
          if (r.error() > tol) {
            bad++;
            System.out.printf(
                Locale.ROOT,
                "DIFFERS %s: finite difference %.6g, error %.3g%n",
                r.name(),
                r.expected(),
                r.error());
          }
        }
        System.out.printf(
            Locale.ROOT,
            "%s on %s: %d of %d gradients match finite differences; worst error %.3g%n",
            m.id(),
            device,
            params.size() - bad,
            params.size(),
            worst);
      }
      if (against != null) {
        Manifest ref = Manifest.read(against);
        List<String> outs = new ArrayList<>(List.of(TensorNames.LOSS));
        params.forEach(p -> outs.add(TensorNames.grad(p)));
        // bf16 keeps 8 significant bits: a few roundings per layer stay within 1e-1 of the
        // output's largest value (PrepareConformanceTest's bound for gradients)
        double tol = tolerance != null ? tolerance : bf16 ? 1e-1 : 1e-5;
        double worst = 0;
        int against0 = bad;
        try (GraphSession other =
            GraphSession.open(ref.graph("train").orElseThrow(), fp32, threads)) {
          for (TrainGraphChecks.Row r : TrainGraphChecks.agreement(g.train(), other, feeds, outs)) {
            worst = Math.max(worst, r.error());
            if (r.error() > tol) {
              bad++;
              System.out.printf(
                  Locale.ROOT, "DIFFERS %s: %.3g of max %.4g%n", r.name(), r.error(), r.expected());
            }
          }
        }
        System.out.printf(
            Locale.ROOT,
            "%s vs %s on %s: %d of %d outputs agree; worst error %.3g of the output's max%n",
            m.id(),
            ref.id(),
            device,
            outs.size() - (bad - against0),
            outs.size(),
            worst);
      }
    }
    return bad == 0 ? 0 : 1;
  }

  /** One batch: the first of --data, else the fixture's. */
  private Map<String, Tensor> batch(Manifest m) throws IOException {
    if (data != null) {
      return new LinkedHashMap<>(
          Batcher.inOrder(Examples.load(data, m, read.textOptions(model, m, data)), m, batchSize)
              .next());
    }
    if (!Files.isDirectory(model.resolve("fixture"))) {
      throw new IllegalArgumentException(model + " has no fixture/: give a batch with --data FILE");
    }
    Map<String, Tensor> b = new LinkedHashMap<>();
    Fixture fx = Fixture.read(model);
    m.inputs().forEach(s -> b.put(s.name(), fx.batch().get(s.name())));
    return b;
  }

  private int fixture(Manifest m, ExecutionDevice dev) throws IOException {
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, dev, threads);
    int bad = 0;
    double worst = 0;
    for (FixtureCheck.Row r : rows) {
      worst = Math.max(worst, r.relToMax());
      if (!r.ok()) {
        bad++;
        System.out.printf(
            Locale.ROOT,
            "DIFFERS %s %s: max abs %.3g, %.3g of max%n",
            r.graph(),
            r.name(),
            r.maxAbs(),
            r.relToMax());
      }
    }
    System.out.printf(
        Locale.ROOT,
        "%s on %s: %d of %d outputs match torch; worst error %.3g of the output's max%n",
        m.id(),
        device,
        rows.size() - bad,
        rows.size(),
        worst);
    return bad == 0 ? 0 : 1;
  }
}
