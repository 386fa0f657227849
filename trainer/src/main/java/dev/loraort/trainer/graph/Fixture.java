package dev.loraort.trainer.graph;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model directory's {@code fixture/}: one batch, the LoRA inputs (seeded, non-zero A and B), and
 * PyTorch's outputs for them: {@code loss}, {@code grad.*} and {@code infer.<output>}.
 *
 * @param batch the batch inputs
 * @param params LoRA inputs, trainables and lora_scale
 * @param expected torch's outputs
 * @param rtol relative tolerance the exporter checked with
 * @param atol absolute tolerance the exporter checked with
 */
public record Fixture(
    Map<String, Tensor> batch,
    Map<String, Tensor> params,
    Map<String, Tensor> expected,
    double rtol,
    double atol) {
  /** Prefix of infer-graph outputs in expected.safetensors. */
  public static final String INFER = "infer.";

  /**
   * @param modelDir the model directory
   * @return its fixture
   * @throws IOException if fixture/ is missing or malformed
   */
  public static Fixture read(Path modelDir) throws IOException {
    Path d = modelDir.resolve("fixture");
    if (!Files.isDirectory(d)) {
      throw new IOException(d + " not found: this model directory has no fixture");
    }
    JsonObject meta =
        JsonParser.parseString(Files.readString(d.resolve("fixture.json"), StandardCharsets.UTF_8))
            .getAsJsonObject();
    JsonObject tol = meta.getAsJsonObject("tolerance");
    return new Fixture(
        Safetensors.read(d.resolve("batch.safetensors")).tensors(),
        Safetensors.read(d.resolve("params.safetensors")).tensors(),
        Safetensors.read(d.resolve("expected.safetensors")).tensors(),
        tol.get("rtol").getAsDouble(),
        tol.get("atol").getAsDouble());
  }

  /**
   * Feeds for the infer graph: its batch inputs and the parameters.
   *
   * @param m the manifest
   * @return the feeds
   */
  public Map<String, Tensor> inferFeeds(Manifest m) {
    Map<String, Tensor> f = new LinkedHashMap<>();
    for (Manifest.IoSpec s : m.inferInputs()) {
      f.put(s.name(), batch.get(s.name()));
    }
    f.putAll(params);
    return f;
  }

  /**
   * @return feeds for the train graph
   */
  public Map<String, Tensor> trainFeeds() {
    Map<String, Tensor> f = new LinkedHashMap<>(batch);
    f.putAll(params);
    return f;
  }
}
