package dev.loraort.trainer.cli;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A model, an adapter for it and data to score it on: the options eval and sharpness share. */
final class AdapterDataOptions {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      required = true,
      description = "the model directory")
  Path model;

  @Option(
      names = "--adapter",
      paramLabel = "PATH",
      required = true,
      description = "the adapter, any format")
  Path adapter;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      required = true,
      description = "JSONL (ids or text), CSV (text) or IDX images (labels beside them)")
  Path data;

  @Mixin DataOptions read = new DataOptions();

  Manifest manifest() throws IOException {
    return Manifest.read(model);
  }

  LoraParams params(Manifest m) throws IOException {
    AdapterWeights a = Adapters.read(adapter, m);
    return LoraParams.of(m, a.tensors(), a.scale(), adapter.toString());
  }

  List<JsonlDataset.Example> examples(Manifest m) throws IOException {
    return Examples.load(data, m, read.textOptions(model, m, data));
  }
}
