package dev.loraort.trainer.cli;

import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.trainer.api.LoraTrainer;
import dev.loraort.trainer.loop.TrainingJob;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer export}: a run's adapter in another format. */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a run's adapter in another format.",
      "Writes a run's adapter as an ONNX initializers file, an ONNX Runtime .onnx_adapter, a PEFT",
      "directory, a merged infer.onnx, or safetensors. Outputs are written atomically."
    })
final class ExportCommand implements Callable<Integer> {
  @Option(
      names = "--run",
      paramLabel = "DIR",
      description = "a run directory (adapter.onnx, run.json)")
  Path run;

  @Option(
      names = "--adapter",
      paramLabel = "PATH",
      description = "instead of --run: an adapter in any format (needs --model)")
  Path adapterIn;

  @Option(
      names = "--format",
      required = true,
      description = "onnx, ort-adapter, peft, merged or safetensors")
  String format;

  @Option(
      names = "--out",
      paramLabel = "PATH",
      required = true,
      description = "file (directory for peft)")
  Path out;

  @Option(
      names = "--model",
      paramLabel = "DIR",
      description =
          "the model directory; default: the one run.json names (the bundled model for embedded runs)")
  Path model;

  @Override
  public Integer call() throws Exception {
    AdapterFormat f = AdapterFormat.parse(format);
    if ((run == null) == (adapterIn == null)) {
      throw new IllegalArgumentException("give --run DIR or --adapter PATH (with --model)");
    }
    if (model == null && adapterIn != null) {
      throw new IllegalArgumentException("--adapter needs --model DIR");
    }
    Path dir = model != null ? model : LoraTrainer.modelOf(run);
    AdapterWeights a =
        LoraTrainer.export(
            adapterIn != null ? adapterIn : run.resolve(TrainingJob.ADAPTER), dir, f, out);
    System.err.printf(
        "wrote %s (%s, rank %d, scale %s%s) for %s%n",
        out,
        f.cli,
        a.rank(),
        a.scale(),
        a.patterns().isEmpty() ? "" : ", per module by " + a.patterns().toJson(),
        a.metadata().getOrDefault("base_model_id", dir.toString()));
    return 0;
  }
}
