package dev.loraort.trainer.cli;

import com.google.gson.GsonBuilder;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.api.LoraTrainer;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A model, an adapter for it, data to score it on, where to run and where the result goes: the
 * options eval and sharpness share.
 */
final class AdapterDataOptions {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      description =
          "the model directory; default: the one the adapter's run was trained on (run.json"
              + " beside the adapter; the bundled model for embedded runs)")
  Path model;

  @Option(
      names = "--adapter",
      paramLabel = "PATH",
      description =
          "the adapter, any format (default: none, the model as shipped: B = 0 and the heads'"
              + " initial values)")
  Path adapter;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      required = true,
      description = "JSONL (ids or text), CSV (text) or IDX images (labels beside them)")
  Path data;

  @Mixin DataOptions read = new DataOptions();

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Option(names = "--out", paramLabel = "FILE", description = "also write the result as JSON")
  Path out;

  /**
   * @param tf32 CUDA: TF32 matrix products
   * @return where to run
   */
  ExecutionDevice device(boolean tf32) {
    return ExecutionDevice.parse(device, tf32);
  }

  /**
   * Writes the result as pretty JSON to --out (atomically), if given.
   *
   * @param result the result
   * @throws IOException if it cannot be written
   */
  void writeResult(Object result) throws IOException {
    if (out != null) {
      byte[] json =
          new GsonBuilder()
              .setPrettyPrinting()
              .create()
              .toJson(result)
              .getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(out, o -> o.write(json));
    }
  }

  Manifest manifest() throws IOException {
    model = modelFor(model, adapter);
    return Manifest.read(model);
  }

  /**
   * @param model --model, or null
   * @param adapter --adapter, or null
   * @return the model, or else the one the adapter's run was trained on (run.json beside it)
   * @throws IOException if that run.json cannot be read
   * @throws IllegalArgumentException if neither names a model
   */
  static Path modelFor(Path model, Path adapter) throws IOException {
    if (model != null) {
      return model;
    }
    Path run = adapter == null ? null : adapter.toAbsolutePath().getParent();
    if (run == null || !Files.isRegularFile(run.resolve(TrainingJob.RUN_JSON))) {
      throw new IllegalArgumentException(
          "give --model DIR: "
              + (adapter == null
                  ? "there is no adapter whose run names its model"
                  : adapter + " has no " + TrainingJob.RUN_JSON + " beside it to name its model"));
    }
    return LoraTrainer.modelOf(run);
  }

  LoraParams params(Manifest m) throws IOException {
    if (adapter == null) { // B = 0: the LoRA branch adds nothing, whatever A and the scale are
      return LoraParams.init(m, m.lora().defaultRank(), 1f, new SplittableRandom(0));
    }
    AdapterWeights a = Adapters.read(adapter, m);
    return LoraParams.of(m, a.tensors(), a, adapter.toString());
  }

  /**
   * @return what is scored, for the printed line
   */
  String scored() {
    return adapter != null ? adapter.toString() : model + " as shipped (no adapter)";
  }

  /** The data; text labels given as names take the names the adapter was trained with. */
  List<JsonlDataset.Example> examples(Manifest m) throws IOException {
    if (read.labels == null && adapter != null) {
      read.labels = TrainingJob.labelNames(Adapters.read(adapter, m));
    }
    return Examples.load(data, m, read.textOptions(model, m, data));
  }
}
