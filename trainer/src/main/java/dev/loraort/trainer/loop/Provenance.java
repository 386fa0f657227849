package dev.loraort.trainer.loop;

import dev.loraort.artifacts.FileDigest;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.GraphSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a run's result came from: the model and the exact graphs (sha256), and the platform, since
 * ONNX Runtime's version, the execution provider and the JVM can change trained weights.
 *
 * @param modelId manifest id
 * @param modelDir the model directory as given
 * @param contract the graph contract
 * @param files sha256 of each graph (and base weights) by file name
 * @param onnxruntime ONNX Runtime version
 * @param trainer this trainer's version
 * @param java Java runtime version
 * @param os OS name and version
 * @param arch CPU architecture
 */
public record Provenance(
    String modelId,
    String modelDir,
    String contract,
    Map<String, String> files,
    String onnxruntime,
    String trainer,
    String java,
    String os,
    String arch) {

  /** Copies the map, sorted by file name: Map.copyOf's order changes from one JVM to the next. */
  public Provenance {
    files = Collections.unmodifiableMap(new TreeMap<>(files));
  }

  /**
   * Collects provenance for a model directory.
   *
   * @param m the manifest
   * @param modelDirLabel how to name the directory (a path, or {@code embedded:<id>})
   * @return the record
   * @throws IOException if a graph cannot be hashed
   */
  public static Provenance of(Manifest m, String modelDirLabel) throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    // every graph the manifest names (train, train_fused, train_fp16, infer, train_rwp)
    for (String role : m.graphs().keySet()) {
      Path p = m.graph(role).orElse(null);
      if (p != null && Files.exists(p)) {
        files.put(p.getFileName().toString(), FileDigest.sha256(p));
      }
    }
    if (m.baseWeights().isPresent()) {
      Path p = m.dir().resolve(m.baseWeights().get().file());
      if (Files.exists(p)) {
        files.put(p.getFileName().toString(), FileDigest.sha256(p));
      }
    }
    String version = Provenance.class.getPackage().getImplementationVersion();
    return new Provenance(
        m.id(),
        modelDirLabel,
        Manifest.CONTRACT,
        files,
        ortVersion(),
        version == null ? "dev" : version,
        System.getProperty("java.version"),
        System.getProperty("os.name") + " " + System.getProperty("os.version"),
        System.getProperty("os.arch"));
  }

  private static String ortVersion() {
    return GraphSession.environment().getVersion();
  }
}
