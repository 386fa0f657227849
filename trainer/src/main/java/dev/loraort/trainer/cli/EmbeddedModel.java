package dev.loraort.trainer.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The default model bundled in the jar (onnx-models/tiny-roberta-cls with its sample data), copied
 * to a temporary directory when {@code --model} is not given.
 */
final class EmbeddedModel {
  static final String ROOT = "/default-model/";
  static final String SAMPLE_DATA = "sample/train.jsonl";

  private EmbeddedModel() {}

  /**
   * The data a command reads: {@code data} when given, else the model's sample data.
   *
   * @param modelDir the model directory
   * @param data the --data option, or null
   * @return the data file
   * @throws IllegalArgumentException if the file does not exist; the message says which and why
   */
  static Path dataFile(Path modelDir, Path data) {
    Path file = data != null ? data : modelDir.resolve(SAMPLE_DATA);
    if (!Files.exists(file)) {
      throw new IllegalArgumentException(
          file
              + " not found"
              + (data == null
                  ? " (no --data given and the model has no " + SAMPLE_DATA + ")"
                  : ""));
    }
    return file;
  }

  /**
   * Copies the bundled model directory out of the jar.
   *
   * @return the directory (deleted when the JVM exits)
   * @throws IOException if the jar has no bundled model
   */
  static Path extract() throws IOException {
    Path dir = Files.createTempDirectory("lora-trainer-default-model");
    List<String> files =
        new ArrayList<>(List.of("manifest.json", "trainable_init.safetensors", SAMPLE_DATA));
    byte[] manifest = bytes("manifest.json");
    JsonObject graphs =
        JsonParser.parseString(new String(manifest, StandardCharsets.UTF_8))
            .getAsJsonObject()
            .getAsJsonObject("graphs");
    graphs.entrySet().forEach(e -> files.add(e.getValue().getAsString()));
    for (String f : files) {
      Path target = dir.resolve(f);
      Files.createDirectories(target.getParent());
      try (InputStream in = open(f)) {
        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      }
      target.toFile().deleteOnExit();
    }
    dir.resolve("sample").toFile().deleteOnExit();
    dir.toFile().deleteOnExit();
    return dir;
  }

  private static byte[] bytes(String f) throws IOException {
    try (InputStream in = open(f)) {
      return in.readAllBytes();
    }
  }

  private static InputStream open(String f) throws IOException {
    InputStream in = EmbeddedModel.class.getResourceAsStream(ROOT + f);
    if (in == null) {
      throw new IOException(
          "this build bundles no default model (" + ROOT + f + " missing); pass --model DIR");
    }
    return in;
  }
}
