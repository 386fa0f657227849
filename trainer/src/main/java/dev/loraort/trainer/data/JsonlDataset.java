package dev.loraort.trainer.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads JSONL where each line is one example: a field per batch input of the manifest, without the
 * batch dimension ({@code {"input_ids": [0, 31, 2], "labels": 1}}). {@code attention_mask} defaults
 * to ones, and a causal LM's {@code labels} to its input_ids.
 *
 * <p>A family's own inputs are read by its {@link FamilyInputs}: a Qwen2-VL line also holds its
 * images' patches, {@code pixel_values}, and {@code image_grid_thw}, one (t, h, w) per image, with
 * each image's t h w / merge^2 image tokens already in input_ids ({@link Qwen2VlBatches}).
 */
public final class JsonlDataset {
  /**
   * One example: per input, its values (long[] or float[]) and its length along the sequence dim.
   *
   * @param values flat values by input name
   */
  public record Example(Map<String, Object> values) {
    /** Copies the map. */
    public Example {
      values = Map.copyOf(values);
    }
  }

  private JsonlDataset() {}

  /**
   * Reads and checks every line.
   *
   * @param file the JSONL file
   * @param m the manifest whose train inputs the examples must match
   * @return the examples, in file order
   * @throws IOException if the file is unreadable or a line does not match; the message names the
   *     file, the line and the field
   */
  public static List<Example> read(Path file, Manifest m) throws IOException {
    FamilyInputs family = FamilyInputs.of(m);
    List<Manifest.IoSpec> specs =
        m.inputs().stream().filter(s -> !family.builds(s.name())).toList();
    for (Manifest.IoSpec s : specs) {
      if (s.shape().isEmpty() || !"batch".equals(s.shape().get(0).symbol())) {
        throw new IOException(
            m.dir().resolve(Manifest.FILE)
                + ": input "
                + s.name()
                + " has shape "
                + s.shape()
                + "; JSONL data feeds only batch-major inputs ([batch, ...]). Feed this model from its fixture or code.");
      }
    }
    InputLimits limits = InputLimits.of(m);
    List<Example> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int n = 0;
      while ((line = r.readLine()) != null) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        String at = file + ":" + n;
        JsonObject o;
        try {
          o = JsonParser.parseString(line).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
          throw new IOException(at + ": not a JSON object", e);
        }
        Map<String, Object> v = example(o, specs, m, at);
        family.read(o, v, at);
        limits.check(v, at);
        out.add(new Example(v));
      }
    }
    if (out.isEmpty()) {
      throw new IOException(file + ": no examples");
    }
    return out;
  }

  private static Map<String, Object> example(
      JsonObject o, List<Manifest.IoSpec> specs, Manifest m, String at) throws IOException {
    Map<String, Object> v = new LinkedHashMap<>();
    for (Manifest.IoSpec s : specs) {
      JsonElement e = o.get(s.name());
      if (e == null && s.name().equals("attention_mask") && o.has("input_ids")) {
        long[] ones = new long[o.getAsJsonArray("input_ids").size()];
        Arrays.fill(ones, 1);
        v.put(s.name(), ones);
        continue;
      }
      if (e == null
          && s.name().equals("labels")
          && m.task().contains("causal-lm")
          && o.has("input_ids")) {
        e = o.get("input_ids");
      }
      if (e == null && s.name().equals("token_type_ids") && o.has("input_ids")) {
        v.put(s.name(), new long[o.getAsJsonArray("input_ids").size()]);
        continue;
      }
      if (e == null) {
        throw new IOException(
            at
                + ": missing field "
                + s.name()
                + " (the model's inputs: "
                + specs.stream().map(Manifest.IoSpec::name).toList()
                + ")");
      }
      List<Double> flat = numbers(e, s.name(), at);
      long fixed = s.fixedElementsPerExample();
      boolean variable = s.variablePerExample();
      if (variable ? flat.size() % fixed != 0 || flat.isEmpty() : flat.size() != fixed) {
        throw new IOException(
            at
                + ": field "
                + s.name()
                + " has "
                + flat.size()
                + " values; shape "
                + s.shape()
                + " without the batch dim needs "
                + (variable ? "a non-zero multiple of " : "")
                + fixed);
      }
      v.put(s.name(), s.dtype() == Tensor.DType.F32 ? floats(flat) : integers(flat, s.name(), at));
    }
    return v;
  }

  static JsonElement field(JsonObject o, String name, String at) throws IOException {
    JsonElement e = o.get(name);
    if (e == null) {
      throw new IOException(at + ": missing field " + name);
    }
    return e;
  }

  static List<Double> numbers(JsonElement e, String name, String at) throws IOException {
    List<Double> flat = new ArrayList<>();
    try {
      flatten(e, flat);
    } catch (IllegalStateException | NumberFormatException x) {
      throw new IOException(
          at + ": field " + name + " must be a number or a (nested) array of numbers", x);
    }
    return flat;
  }

  static float[] floats(List<Double> flat) {
    float[] a = new float[flat.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = flat.get(i).floatValue();
    }
    return a;
  }

  static long[] integers(List<Double> flat, String name, String at) throws IOException {
    long[] a = new long[flat.size()];
    for (int i = 0; i < a.length; i++) {
      double d = flat.get(i);
      if (d != Math.rint(d)) {
        throw new IOException(at + ": field " + name + " must hold integers, found " + d);
      }
      a[i] = (long) d;
    }
    return a;
  }

  private static void flatten(JsonElement e, List<Double> out) {
    if (e.isJsonArray()) {
      JsonArray a = e.getAsJsonArray();
      for (JsonElement x : a) {
        flatten(x, out);
      }
    } else {
      out.add(e.getAsDouble());
    }
  }
}
