package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.conformance.ConformanceReport;
import dev.loraort.trainer.conformance.ConformanceRun;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.graph.ExecutionDevice;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code lora-trainer conform}: this trainer against a golden trace, from the same start and
 * batches.
 */
@Command(
    name = "conform",
    mixinStandardHelpOptions = true,
    description = {
      "Runs this trainer against a golden trace and reports each step.",
      "Runs this trainer from a golden trace's initial tensors on its batches, with the run's options",
      "from its config.json, and prints the per-step comparison. Exit status 1 if it diverges."
    })
final class ConformCommand implements Callable<Integer> {
  @Option(
      names = "--golden",
      paramLabel = "DIR",
      required = true,
      description = "golden trace directory")
  Path golden;

  @Option(
      names = "--model",
      paramLabel = "DIR",
      required = true,
      description = "the model directory it was made for")
  Path model;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Mixin TrainGraphOptions trainGraph = new TrainGraphOptions();

  @Mixin ReportFiles reports = new ReportFiles();

  @Option(names = "--threads", description = "CPU intra-op threads, 0 = all cores")
  int threads;

  @Override
  public Integer call() throws Exception {
    GoldenTrace g = GoldenTrace.read(golden);
    ConformanceReport r =
        ConformanceRun.run(
            Manifest.read(model),
            g,
            config(g),
            trainGraph.on(ExecutionDevice.parse(device, false)),
            threads);
    System.out.print(r.render());
    reports.write(r, golden.getFileName().toString());
    return r.conforms() ? 0 : 1;
  }

  /**
   * @param g the golden trace
   * @return the golden run's configuration, parsed with the train command's own options
   */
  static TrainConfig config(GoldenTrace g) {
    return TrainArgs.parse(g.args());
  }
}
