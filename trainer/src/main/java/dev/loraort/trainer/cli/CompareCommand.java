package dev.loraort.trainer.cli;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.artifacts.safetensors.Safetensors;
import dev.loraort.trainer.conformance.ConformanceReport;
import dev.loraort.trainer.conformance.ConformanceRun;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.conformance.TraceRow;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code lora-trainer compare}: any trainer's trace (and adapter) against a golden trace. */
@Command(
    name = "compare",
    mixinStandardHelpOptions = true,
    description = {
      "Compares any trainer's trace with a golden trace, step by step.",
      "Compares a trace (JSONL: step, loss[, perturbation_norm] per line) and optionally a final adapter",
      "with a golden trace directory, step by step; prints the first divergence. Exit status 1 if it diverges."
    })
final class CompareCommand implements Callable<Integer> {
  @Option(
      names = "--trace",
      paramLabel = "FILE",
      required = true,
      description = "the trace to check")
  Path trace;

  @Option(
      names = "--golden",
      paramLabel = "DIR",
      required = true,
      description = "golden trace directory")
  Path golden;

  @Option(
      names = "--adapter",
      paramLabel = "FILE",
      description = "final tensors: adapter.onnx or .safetensors (contract names)")
  Path adapter;

  @Option(
      names = "--loss-rtol",
      description = "per-step loss tolerance (default: ${DEFAULT-VALUE})")
  double lossRtol = ConformanceRun.LOSS_RTOL;

  @Option(
      names = "--tensor-tol",
      description = "final tensors and perturbation norms (default: ${DEFAULT-VALUE})")
  double tensorTol = ConformanceRun.TENSOR_TOL;

  @Mixin ReportFiles reports = new ReportFiles();

  @Override
  public Integer call() throws Exception {
    GoldenTrace g = GoldenTrace.read(golden);
    Map<String, Tensor> finals =
        adapter == null
            ? Map.of()
            : adapter.toString().endsWith(".safetensors")
                ? Safetensors.read(adapter).tensors()
                : OnnxFile.read(adapter).initializers();
    ConformanceReport r =
        ConformanceReport.compare(
            TraceRow.readJsonl(trace), g.rows(), finals, g.finals(), lossRtol, tensorTol);
    System.out.print(r.render());
    reports.write(r, golden.getFileName() + " vs " + trace.getFileName());
    return r.conforms() ? 0 : 1;
  }
}
