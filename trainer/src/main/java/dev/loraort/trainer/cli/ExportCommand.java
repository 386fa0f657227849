package dev.loraort.trainer.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.loop.TrainingJob;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
    Path dir = model;
    if (dir == null && adapterIn != null) {
      throw new IllegalArgumentException("--adapter needs --model DIR");
    }
    if (dir == null) {
      JsonObject runJson =
          JsonParser.parseString(
                  Files.readString(run.resolve(TrainingJob.RUN_JSON), StandardCharsets.UTF_8))
              .getAsJsonObject();
      String label = runJson.getAsJsonObject("provenance").get("modelDir").getAsString();
      dir = label.startsWith("embedded:") ? EmbeddedModel.extract() : Path.of(label);
    }
    Manifest m = Manifest.read(dir);
    AdapterWeights a =
        Adapters.read(adapterIn != null ? adapterIn : run.resolve(TrainingJob.ADAPTER), m);
    Adapters.write(out, f, a, m);
    System.err.printf(
        "wrote %s (%s, rank %d, scale %s) for %s%n", out, f.cli, a.rank(), a.scale(), m.id());
    return 0;
  }
}
