package dev.loraort.trainer.api;

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
 * The model bundled in the trainer jar: {@code onnx-models/tiny-roberta-cls} (a 2-layer, 64-wide
 * RoBERTa classifier) with its synthetic sample data. It is what {@code lora-trainer train} trains
 * without {@code --model}, and what {@link TrainOptions} trains when no model is given.
 */
public final class BundledModel {
  /** The model's id (its manifest's {@code id}). */
  public static final String ID = "tiny-roberta-cls";

  /** How run.json's provenance names the bundled model, since its extracted copy is temporary. */
  public static final String LABEL = "embedded:" + ID;

  /** The sample data inside a model directory, relative to it. */
  public static final String SAMPLE_DATA = "sample/train.jsonl";

  private static final String ROOT = "/default-model/";

  private BundledModel() {}

  /**
   * The data a run reads: {@code data} when given, else the model directory's {@value #SAMPLE_DATA}
   * (the bundled model has one).
   *
   * @param modelDir the model directory
   * @param data the data file, or null for the model's sample data
   * @return the data file
   * @throws IllegalArgumentException if the file does not exist; the message says which and why
   */
  public static Path dataFile(Path modelDir, Path data) {
    Path file = data != null ? data : modelDir.resolve(SAMPLE_DATA);
    if (!Files.exists(file)) {
      throw new IllegalArgumentException(
          file
              + " not found"
              + (data == null
                  ? " (no data file given and the model has no " + SAMPLE_DATA + ")"
                  : ""));
    }
    return file;
  }

  /**
   * Copies the bundled model directory out of the jar into a new temporary directory.
   *
   * @return the model directory (lora-graph/1), deleted when the JVM exits
   * @throws IOException if this build bundles no model, or the copy cannot be written
   */
  public static Path extract() throws IOException {
    Path dir = Files.createTempDirectory("lora-trainer-default-model");
    // the JVM deletes in the reverse order of registration: a directory before what is in it
    // would stay (every quickstart run left one behind)
    dir.toFile().deleteOnExit();
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
      target.getParent().toFile().deleteOnExit();
      try (InputStream in = open(f)) {
        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      }
      target.toFile().deleteOnExit();
    }
    return dir;
  }

  private static byte[] bytes(String f) throws IOException {
    try (InputStream in = open(f)) {
      return in.readAllBytes();
    }
  }

  private static InputStream open(String f) throws IOException {
    InputStream in = BundledModel.class.getResourceAsStream(ROOT + f);
    if (in == null) {
      throw new IOException(
          "this build bundles no default model (" + ROOT + f + " missing); pass a model directory");
    }
    return in;
  }
}
