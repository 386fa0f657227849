package dev.loraort.artifacts.manifest;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model directory's manifest.json (lora-graph/1). Read with {@link #read(Path)}; every error
 * names the file and the field.
 *
 * @param dir the model directory
 * @param id model id
 * @param family roberta, bert, gpt2, clip, qwen2vl, ...
 * @param task seq-cls, causal-lm, contrastive, vl-causal-lm
 * @param hfConfig the Hugging Face config the graphs were exported from
 * @param hfClass the Hugging Face model class
 * @param graphs graph files by role: train, infer, train_rwp (optional)
 * @param inputs the batch inputs of the train graphs
 * @param inferInputs the batch inputs of the infer graph
 * @param inferOutputs the outputs of the infer graph
 * @param lora the adapted modules and defaults
 * @param trainable non-LoRA trainable tensors (heads)
 * @param baseWeights where external base weights come from, if the graphs use them
 * @param tokenizer where the tokenizer.json is: {@code file} (in the directory) or {@code maven} +
 *     {@code entry} (a jar entry); empty if the manifest names none
 */
public record Manifest(
    Path dir,
    String id,
    String family,
    String task,
    JsonObject hfConfig,
    String hfClass,
    Map<String, String> graphs,
    List<IoSpec> inputs,
    List<IoSpec> inferInputs,
    List<IoSpec> inferOutputs,
    LoraSpec lora,
    List<TrainableSpec> trainable,
    Optional<BaseWeights> baseWeights,
    Map<String, String> tokenizer) {

  /** The only contract version this code reads. */
  public static final String CONTRACT = "lora-graph/1";

  /** The manifest's file name in a model directory. */
  public static final String FILE = "manifest.json";

  /** Copies collections. */
  public Manifest {
    graphs = Map.copyOf(graphs);
    inputs = List.copyOf(inputs);
    inferInputs = List.copyOf(inferInputs);
    inferOutputs = List.copyOf(inferOutputs);
    trainable = List.copyOf(trainable);
    tokenizer = Map.copyOf(tokenizer);
  }

  /**
   * One dimension: a symbol such as {@code batch}, or a fixed size.
   *
   * @param symbol the symbolic name, or null for a fixed size
   * @param size the fixed size (-1 when symbolic)
   */
  public record Dim(String symbol, long size) {
    /**
     * @return true for a symbolic dimension
     */
    public boolean symbolic() {
      return symbol != null;
    }

    @Override
    public String toString() {
      return symbolic() ? symbol : Long.toString(size);
    }
  }

  /**
   * A graph input or output.
   *
   * @param name tensor name
   * @param dtype element type
   * @param shape dims
   */
  public record IoSpec(String name, Tensor.DType dtype, List<Dim> shape) {
    /** Copies the shape. */
    public IoSpec {
      shape = List.copyOf(shape);
    }

    /**
     * @return the product of the fixed dims after the first (batch) dim: one example's size, or its
     *     row size
     */
    public long fixedElementsPerExample() {
      long n = 1;
      for (Dim d : shape.subList(1, shape.size())) {
        n *= d.symbolic() ? 1 : d.size();
      }
      return n;
    }

    /**
     * @return true if a dim after the first is symbolic (a sequence): examples differ in length
     */
    public boolean variablePerExample() {
      return shape.subList(1, shape.size()).stream().anyMatch(Dim::symbolic);
    }
  }

  /**
   * One adapted module.
   *
   * @param name Hugging Face module path
   * @param in input features (columns of A)
   * @param out output features (rows of B)
   * @param fanInFanOut true for GPT-2 Conv1D (W0 stored [in, out])
   * @param baseWeight the initializer of W0 in infer.onnx, if known
   * @param baseLayout {@code out_in} or {@code in_out}: that initializer's layout
   */
  public record LoraModule(
      String name, int in, int out, boolean fanInFanOut, String baseWeight, String baseLayout) {}

  /**
   * The LoRA section.
   *
   * @param defaultRank default r
   * @param defaultAlpha default alpha
   * @param modules adapted modules in graph order
   * @param peftPrefix key prefix of PEFT files
   * @param peftTaskType PEFT task_type, may be null
   * @param modulesToSave PEFT modules_to_save
   * @param layersToTransform PEFT layers_to_transform (empty: every layer)
   * @param layersPattern PEFT layers_pattern (empty: any)
   * @param dropout LoRA dropout's default p when the train graphs have the dropout inputs ({@code
   *     lora_dropout}, {@code lora_dropout_seed}); null when they have none
   */
  public record LoraSpec(
      int defaultRank,
      double defaultAlpha,
      List<LoraModule> modules,
      String peftPrefix,
      String peftTaskType,
      List<String> modulesToSave,
      List<Integer> layersToTransform,
      List<String> layersPattern,
      Double dropout) {
    /** Copies the lists. */
    public LoraSpec {
      modules = List.copyOf(modules);
      modulesToSave = List.copyOf(modulesToSave);
      layersToTransform = List.copyOf(layersToTransform);
      layersPattern = List.copyOf(layersPattern);
    }
  }

  /**
   * A non-LoRA trainable tensor.
   *
   * @param name tensor name (graph input; gradient {@code grad.<name>})
   * @param shape its shape
   */
  public record TrainableSpec(String name, long[] shape) {
    /** Copies the shape. */
    public TrainableSpec {
      shape = shape.clone();
    }
  }

  /**
   * One tensor of the external base-weights file.
   *
   * @param name initializer name in the graphs
   * @param source the Hugging Face tensor it holds
   * @param transposed true if it holds the transpose of {@code source}
   * @param shape its shape
   * @param offset byte offset in the file
   * @param length byte length
   */
  public record BaseTensor(
      String name, String source, boolean transposed, long[] shape, long offset, long length) {
    /** Copies the shape. */
    public BaseTensor {
      shape = shape.clone();
    }
  }

  /**
   * External base weights shared by the graphs, written by Java from their origin (never
   * committed).
   *
   * @param file file name in the model directory
   * @param tensors its tensors
   * @param origin where the real weights come from (e.g. {@code maven}, {@code entry}, {@code
   *     format}); may be empty
   */
  public record BaseWeights(String file, List<BaseTensor> tensors, Map<String, String> origin) {
    /** Copies the collections. */
    public BaseWeights {
      tensors = List.copyOf(tensors);
      origin = Map.copyOf(origin);
    }
  }

  /**
   * Reads and validates {@code dir/manifest.json}.
   *
   * @param dir the model directory
   * @return the manifest
   * @throws IOException if the file is missing, not JSON, of another contract, or lacks a field;
   *     the message names the file and the field
   */
  public static Manifest read(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IOException(
          file + " not found: " + dir + " is not a model directory (docs/graph-contract.md)", e);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IOException(file + ": not UTF-8 text", e);
    }
    JsonObject root;
    try {
      root = JsonParser.parseString(text).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new IOException(file + ": not a JSON object: " + e.getMessage(), e);
    }
    try {
      return parse(dir, file, root);
    } catch (IllegalStateException
        | UnsupportedOperationException
        | ClassCastException
        | IllegalArgumentException // NumberFormatException: a number field that does not parse
        | NullPointerException
        | IndexOutOfBoundsException e) {
      throw new IOException(file + ": a field has the wrong type or form (" + e + ")", e);
    }
  }

  private static Manifest parse(Path dir, Path file, JsonObject root) throws IOException {
    Fields f = new Fields(file);
    String contract = f.string(root, "contract");
    if (!CONTRACT.equals(contract)) {
      throw new IOException(
          file + ": contract is '" + contract + "'; this trainer reads " + CONTRACT);
    }
    JsonObject source = f.object(root, "source");
    Map<String, String> graphs = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> e : f.object(root, "graphs").entrySet()) {
      graphs.put(e.getKey(), e.getValue().getAsString());
    }
    if (!graphs.containsKey("train") || !graphs.containsKey("infer")) {
      throw new IOException(
          file + ": graphs must name 'train' and 'infer', found " + graphs.keySet());
    }
    JsonObject lora = f.object(root, "lora");
    List<LoraModule> modules = new ArrayList<>();
    JsonArray mods = f.array(lora, "modules");
    for (int i = 0; i < mods.size(); i++) {
      JsonObject m = mods.get(i).getAsJsonObject();
      String at = "lora.modules[" + i + "].";
      modules.add(
          new LoraModule(
              f.string(m, "name", at),
              f.integer(m, "in", at),
              f.integer(m, "out", at),
              m.has("fan_in_fan_out") && m.get("fan_in_fan_out").getAsBoolean(),
              optString(m, "base_weight"),
              optString(m, "base_layout")));
    }
    if (modules.isEmpty()) {
      throw new IOException(file + ": lora.modules is empty");
    }
    JsonObject peft = lora.has("peft") ? lora.getAsJsonObject("peft") : new JsonObject();
    List<String> toSave = new ArrayList<>();
    if (peft.has("modules_to_save")) {
      peft.getAsJsonArray("modules_to_save").forEach(e -> toSave.add(e.getAsString()));
    }
    int defaultRank = f.integer(lora, "default_rank", "lora.");
    double defaultAlpha = f.number(lora, "default_alpha", "lora.");
    if (defaultRank < 1 || !(defaultAlpha > 0)) {
      throw new IOException(
          file
              + ": lora.default_rank must be >= 1 and lora.default_alpha > 0, found "
              + defaultRank
              + " and "
              + defaultAlpha);
    }
    LoraSpec loraSpec =
        new LoraSpec(
            defaultRank,
            defaultAlpha,
            modules,
            peft.has("prefix") ? peft.get("prefix").getAsString() : "base_model.model.",
            optString(peft, "task_type"),
            toSave,
            f.integers(peft, "layers_to_transform", "lora.peft."),
            f.strings(peft, "layers_pattern", "lora.peft."),
            dropout(file, lora));
    List<TrainableSpec> trainable = new ArrayList<>();
    if (root.has("trainable")) {
      JsonArray tr = root.getAsJsonArray("trainable");
      for (int i = 0; i < tr.size(); i++) {
        JsonObject t = tr.get(i).getAsJsonObject();
        String at = "trainable[" + i + "].";
        trainable.add(new TrainableSpec(f.string(t, "name", at), longs(f.array(t, "shape", at))));
      }
    }
    Optional<BaseWeights> base = Optional.empty();
    if (root.has("base_weights")) {
      JsonObject b = root.getAsJsonObject("base_weights");
      List<BaseTensor> tensors = new ArrayList<>();
      JsonArray arr = f.array(b, "tensors", "base_weights.");
      for (int i = 0; i < arr.size(); i++) {
        JsonObject t = arr.get(i).getAsJsonObject();
        String at = "base_weights.tensors[" + i + "].";
        tensors.add(
            new BaseTensor(
                f.string(t, "name", at),
                f.string(t, "source", at),
                t.has("transposed") && t.get("transposed").getAsBoolean(),
                longs(f.array(t, "shape", at)),
                (long) f.number(t, "offset", at),
                (long) f.number(t, "length", at)));
      }
      Map<String, String> origin = new LinkedHashMap<>();
      if (b.has("origin")) {
        b.getAsJsonObject("origin")
            .entrySet()
            .forEach(e -> origin.put(e.getKey(), e.getValue().getAsString()));
      }
      base = Optional.of(new BaseWeights(f.string(b, "file", "base_weights."), tensors, origin));
    }
    return new Manifest(
        dir,
        f.string(root, "id"),
        f.string(root, "family"),
        f.string(root, "task"),
        source.has("config") ? source.getAsJsonObject("config") : new JsonObject(),
        f.string(source, "hf_class", "source."),
        graphs,
        ios(f, f.array(root, "inputs"), "inputs"),
        ios(
            f,
            root.has("infer_inputs")
                ? root.getAsJsonArray("infer_inputs")
                : f.array(root, "inputs"),
            "infer_inputs"),
        ios(f, f.array(root, "infer_outputs"), "infer_outputs"),
        loraSpec,
        trainable,
        base,
        tokenizer(root));
  }

  /**
   * The graph file for a role.
   *
   * @param role train, infer or train_rwp
   * @return its path, if the manifest names one
   */
  public Optional<Path> graph(String role) {
    return Optional.ofNullable(graphs.get(role)).map(dir::resolve);
  }

  /**
   * The padding token id: {@code pad_token_id} of the config (or of its text_config), else 0.
   *
   * @return the id used to pad input_ids
   */
  public long padTokenId() {
    for (JsonObject c :
        new JsonObject[] {
          hfConfig, hfConfig.has("text_config") ? hfConfig.getAsJsonObject("text_config") : null
        }) {
      if (c != null && c.has("pad_token_id") && !c.get("pad_token_id").isJsonNull()) {
        return c.get("pad_token_id").getAsLong();
      }
    }
    return 0;
  }

  private static List<IoSpec> ios(Fields f, JsonArray arr, String what) throws IOException {
    List<IoSpec> out = new ArrayList<>();
    for (int i = 0; i < arr.size(); i++) {
      JsonObject o = arr.get(i).getAsJsonObject();
      String at = what + "[" + i + "].";
      String dt = f.string(o, "dtype", at);
      Tensor.DType dtype;
      try {
        dtype = Tensor.DType.ofManifest(dt);
      } catch (IllegalArgumentException e) {
        throw new IOException(f.file + ": " + at + e.getMessage(), e);
      }
      List<Dim> shape = new ArrayList<>();
      for (JsonElement d : f.array(o, "shape", at)) {
        JsonPrimitive p = d.getAsJsonPrimitive();
        shape.add(p.isNumber() ? new Dim(null, p.getAsLong()) : new Dim(p.getAsString(), -1));
      }
      out.add(new IoSpec(f.string(o, "name", at), dtype, shape));
    }
    return out;
  }

  private static Map<String, String> tokenizer(JsonObject root) {
    Map<String, String> t = new LinkedHashMap<>();
    JsonElement e = root.get("tokenizer");
    if (e == null || e.isJsonNull()) {
      return t;
    }
    if (e.isJsonPrimitive()) {
      t.put("file", e.getAsString());
    } else {
      e.getAsJsonObject().entrySet().forEach(x -> t.put(x.getKey(), x.getValue().getAsString()));
    }
    return t;
  }

  private static long[] longs(JsonArray a) {
    long[] v = new long[a.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = a.get(i).getAsLong();
    }
    return v;
  }

  /** lora.dropout: a probability in [0, 1), or null when absent. */
  private static Double dropout(Path file, JsonObject lora) throws IOException {
    if (!lora.has("dropout") || lora.get("dropout").isJsonNull()) {
      return null;
    }
    double p;
    try {
      p = lora.get("dropout").getAsDouble();
    } catch (RuntimeException e) {
      throw new IOException(file + ": lora.dropout must be a number, found " + lora.get("dropout"));
    }
    if (!(p >= 0 && p < 1)) {
      throw new IOException(file + ": lora.dropout must be in [0, 1), found " + p);
    }
    return p;
  }

  private static String optString(JsonObject o, String k) {
    return o.has(k) && !o.get(k).isJsonNull() ? o.get(k).getAsString() : null;
  }

  /** Field access that names the file and the field path on failure. */
  private static final class Fields {
    final Path file;

    Fields(Path file) {
      this.file = file;
    }

    JsonElement get(JsonObject o, String k, String at) throws IOException {
      if (!o.has(k) || o.get(k).isJsonNull()) {
        throw new IOException(file + ": missing field " + at + k);
      }
      return o.get(k);
    }

    String string(JsonObject o, String k) throws IOException {
      return string(o, k, "");
    }

    String string(JsonObject o, String k, String at) throws IOException {
      JsonElement e = get(o, k, at);
      if (!e.isJsonPrimitive()) {
        throw new IOException(file + ": field " + at + k + " must be a string, found " + e);
      }
      return e.getAsString();
    }

    int integer(JsonObject o, String k, String at) throws IOException {
      JsonElement e = get(o, k, at);
      try {
        return e.getAsInt();
      } catch (RuntimeException x) {
        throw new IOException(file + ": field " + at + k + " must be an integer, found " + e, x);
      }
    }

    double number(JsonObject o, String k, String at) throws IOException {
      JsonElement e = get(o, k, at);
      try {
        return e.getAsDouble();
      } catch (RuntimeException x) {
        throw new IOException(file + ": field " + at + k + " must be a number, found " + e, x);
      }
    }

    JsonObject object(JsonObject o, String k) throws IOException {
      JsonElement e = get(o, k, "");
      if (!e.isJsonObject()) {
        throw new IOException(file + ": field " + k + " must be an object");
      }
      return e.getAsJsonObject();
    }

    JsonArray array(JsonObject o, String k) throws IOException {
      return array(o, k, "");
    }

    JsonArray array(JsonObject o, String k, String at) throws IOException {
      JsonElement e = get(o, k, at);
      if (!e.isJsonArray()) {
        throw new IOException(file + ": field " + at + k + " must be an array, found " + e);
      }
      return e.getAsJsonArray();
    }

    /** An optional array of non-negative integers; absent: empty. */
    List<Integer> integers(JsonObject o, String k, String at) throws IOException {
      List<Integer> out = new ArrayList<>();
      if (o.has(k) && !o.get(k).isJsonNull()) {
        for (JsonElement e : array(o, k, at)) {
          if (!e.isJsonPrimitive()
              || !e.getAsJsonPrimitive().isNumber()
              || e.getAsDouble() != Math.rint(e.getAsDouble())
              || e.getAsDouble() < 0
              || e.getAsDouble() > Integer.MAX_VALUE) {
            throw new IOException(
                file + ": field " + at + k + " must hold non-negative integers, found " + e);
          }
          out.add(e.getAsInt());
        }
      }
      return out;
    }

    /** An optional array of strings; absent: empty. */
    List<String> strings(JsonObject o, String k, String at) throws IOException {
      List<String> out = new ArrayList<>();
      if (o.has(k) && !o.get(k).isJsonNull()) {
        for (JsonElement e : array(o, k, at)) {
          if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IOException(file + ": field " + at + k + " must hold strings, found " + e);
          }
          out.add(e.getAsString());
        }
      }
      return out;
    }
  }
}
