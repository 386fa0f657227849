package dev.loraort.trainer.cli;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.TextDataset;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
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
      description = "JSONL (ids or text) or CSV (text)")
  Path data;

  @Option(
      names = "--tokenizer",
      paramLabel = "FILE",
      description = "tokenizer.json for text; default: the manifest's")
  Path tokenizer;

  @Option(
      names = "--max-length",
      description = "tokens per text example (default: ${DEFAULT-VALUE})")
  int maxLength = 128;

  @Option(names = "--text-field", description = "default: ${DEFAULT-VALUE}")
  String textField = "text";

  @Option(names = "--pair-field", description = "second text of a pair (none by default)")
  String pairField;

  @Option(names = "--label-field", description = "default: ${DEFAULT-VALUE}")
  String labelField = "label";

  Manifest manifest() throws IOException {
    return Manifest.read(model);
  }

  LoraParams params(Manifest m) throws IOException {
    AdapterWeights a = Adapters.read(adapter, m);
    return LoraParams.of(m, a.tensors(), a.scale(), adapter.toString());
  }

  List<JsonlDataset.Example> examples(Manifest m) throws IOException {
    Examples.TextOptions text =
        TextDataset.isText(data)
            ? new Examples.TextOptions(
                MavenJar.tokenizer(tokenizer, model, m.tokenizer()),
                maxLength,
                new TextDataset.Fields(textField, pairField, labelField))
            : null;
    return Examples.load(data, m, text);
  }
}
