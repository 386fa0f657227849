package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.FixtureCheck;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer check}: a model directory's graphs against its fixture, on this machine. */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    description = {
      "Checks a model directory's graphs against its fixture's PyTorch values.",
      "Runs the model directory's fixture through its graphs on this ONNX Runtime and compares loss,",
      "every gradient and every infer output with PyTorch's values. Exit status 1 if any differs."
    })
final class CheckCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      required = true,
      description = "the model directory")
  Path model;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Option(
      names = "--tf32",
      negatable = true,
      defaultValue = "false",
      fallbackValue = "true",
      description = "CUDA: allow TF32 (off here: the fixture's tolerances are fp32's)")
  boolean tf32;

  @Option(names = "--threads", description = "CPU intra-op threads, 0 = all cores")
  int threads;

  @Override
  public Integer call() throws Exception {
    Manifest m = Manifest.read(model);
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, ExecutionDevice.parse(device, tf32), threads);
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
