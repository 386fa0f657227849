package dev.loraort.trainer.cli;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer infer}: a model's infer graph with an adapter on one batch. */
@Command(
    name = "infer",
    mixinStandardHelpOptions = true,
    description = {
      "Runs infer.onnx with an adapter on one batch and writes the outputs.",
      "Runs infer.onnx with an adapter (any format) on a batch given as safetensors (one tensor per",
      "infer input, e.g. a fixture's batch.safetensors) and writes every output to a safetensors file."
    })
final class InferCommand implements Callable<Integer> {
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
      description = "adapter.onnx, .onnx_adapter, .safetensors or a PEFT directory")
  Path adapter;

  @Option(
      names = "--batch",
      paramLabel = "FILE",
      required = true,
      description = "the batch (safetensors)")
  Path batch;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      required = true,
      description = "outputs (safetensors)")
  Path out;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device = "cpu";

  @Override
  public Integer call() throws Exception {
    Manifest m = Manifest.read(model);
    AdapterWeights a = Adapters.read(adapter, m);
    LoraParams p = LoraParams.of(m, a.tensors(), a, adapter.toString());
    Map<String, Tensor> given = Safetensors.read(batch).tensors();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    for (Manifest.IoSpec s : m.inferInputs()) {
      Tensor t = given.get(s.name());
      if (t == null) {
        throw new IllegalArgumentException(
            batch
                + ": no tensor "
                + s.name()
                + " (infer inputs: "
                + m.inferInputs().stream().map(Manifest.IoSpec::name).toList()
                + ")");
      }
      feeds.put(s.name(), t);
    }
    feeds.putAll(p.feeds());
    List<String> outs = m.inferOutputs().stream().map(Manifest.IoSpec::name).toList();
    try (GraphSession s = ModelGraphs.openInfer(m, ExecutionDevice.parse(device, false), 0)) {
      Safetensors.write(
          out,
          s.run(feeds, outs),
          Map.of("adapter", adapter.toString(), "lora_scale", Float.toString(p.scale())));
    }
    System.err.printf("wrote %s (%s) for %s%n", out, String.join(", ", outs), m.id());
    return 0;
  }
}
