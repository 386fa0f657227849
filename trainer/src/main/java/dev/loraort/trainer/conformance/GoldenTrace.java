package dev.loraort.trainer.conformance;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A golden trace directory: {@code config.json} (model id and {@code args}, the run as trainer
 * options), {@code init.safetensors}, {@code batches.safetensors} ({@code step<t>.<input>}), {@code
 * trace.jsonl} and {@code final.safetensors}.
 *
 * @param dir the directory
 * @param model the model id it was made for
 * @param args the run as {@code train} options
 * @param init initial tensors (contract names; method state prefixed, e.g. {@code aux.})
 * @param batches one batch per step
 * @param rows the reference's per-step values
 * @param finals the reference's final tensors
 */
public record GoldenTrace(
    Path dir,
    String model,
    List<String> args,
    Map<String, Tensor> init,
    List<Map<String, Tensor>> batches,
    List<TraceRow> rows,
    Map<String, Tensor> finals) {

  /** Copies collections. */
  public GoldenTrace {
    args = List.copyOf(args);
    batches = List.copyOf(batches);
    rows = List.copyOf(rows);
  }

  /**
   * @param dir a golden trace directory
   * @return its contents
   * @throws IOException if a file is missing or malformed; the message names it
   */
  public static GoldenTrace read(Path dir) throws IOException {
    JsonObject cfg;
    try {
      cfg =
          JsonParser.parseString(
                  Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8))
              .getAsJsonObject();
    } catch (NoSuchFileException e) {
      throw new IOException(dir + " is not a golden trace directory: no config.json", e);
    }
    List<String> args = new ArrayList<>();
    for (JsonElement e : cfg.getAsJsonArray("args")) {
      args.add(e.getAsString());
    }
    Map<String, Tensor> flat = Safetensors.read(dir.resolve("batches.safetensors")).tensors();
    TreeMap<Integer, Map<String, Tensor>> byStep = new TreeMap<>();
    for (Map.Entry<String, Tensor> e : flat.entrySet()) {
      String k = e.getKey();
      int dot = k.indexOf('.');
      if (!k.startsWith("step") || dot < 0) {
        throw new IOException(
            dir.resolve("batches.safetensors") + ": tensor " + k + " is not named step<t>.<input>");
      }
      byStep
          .computeIfAbsent(Integer.parseInt(k.substring(4, dot)), t -> new LinkedHashMap<>())
          .put(k.substring(dot + 1), e.getValue());
    }
    return new GoldenTrace(
        dir,
        cfg.get("model").getAsString(),
        args,
        Safetensors.read(dir.resolve("init.safetensors")).tensors(),
        new ArrayList<>(byStep.values()),
        TraceRow.readJsonl(dir.resolve("trace.jsonl")),
        Safetensors.read(dir.resolve("final.safetensors")).tensors());
  }
}
