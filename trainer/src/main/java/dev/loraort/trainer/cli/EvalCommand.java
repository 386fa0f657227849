package dev.loraort.trainer.cli;

import com.google.gson.GsonBuilder;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.TextDataset;
import dev.loraort.trainer.eval.ClassificationMetrics;
import dev.loraort.trainer.eval.Evaluator;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.params.LoraParams;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer eval}: classification metrics of an adapter on labelled data. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description =
        "Accuracy, F1 and MCC (classifiers) or perplexity (causal LMs) of an adapter (any format) on data.")
final class EvalCommand implements Callable<Integer> {
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

  @Option(names = "--batch-size", description = "default: ${DEFAULT-VALUE}")
  int batchSize = 32;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Option(names = "--out", paramLabel = "FILE", description = "also write the metrics as JSON")
  Path out;

  @Override
  public Integer call() throws Exception {
    Manifest m = Manifest.read(model);
    AdapterWeights a = Adapters.read(adapter, m);
    LoraParams p = LoraParams.of(m, a.tensors(), a.scale(), adapter.toString());
    Examples.TextOptions text =
        TextDataset.isText(data)
            ? new Examples.TextOptions(
                MavenJar.tokenizer(tokenizer, model, m.tokenizer()),
                maxLength,
                new TextDataset.Fields(textField, pairField, labelField))
            : null;
    List<JsonlDataset.Example> examples = Examples.load(data, m, text);
    Object result;
    try (Evaluator e =
        Evaluator.open(m, examples, batchSize, ExecutionDevice.parse(device, true), 0)) {
      if (m.task().contains("causal-lm")) {
        double[] ppl = e.perplexity(p);
        System.out.printf(
            Locale.ROOT,
            "%s on %s: %d tokens, nll %.5f, perplexity %.3f%n",
            adapter,
            data,
            (long) ppl[2],
            ppl[0],
            ppl[1]);
        result = Map.of("nll", ppl[0], "perplexity", ppl[1], "tokens", ppl[2]);
      } else {
        ClassificationMetrics r = e.classify(p);
        System.out.printf(
            Locale.ROOT,
            "%s on %s: n %d, accuracy %.4f, f1 %.4f, mcc %.4f%n",
            adapter,
            data,
            r.n(),
            r.accuracy(),
            r.f1(),
            r.mcc());
        result = r;
      }
    }
    if (out != null) {
      byte[] json =
          new GsonBuilder()
              .setPrettyPrinting()
              .create()
              .toJson(result)
              .getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(out, o -> o.write(json));
    }
    return 0;
  }
}
