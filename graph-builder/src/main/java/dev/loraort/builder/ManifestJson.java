package dev.loraort.builder;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.loraort.artifacts.FileDigest;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.PastKeyValues;
import dev.loraort.builder.ir.PositionIds;
import dev.loraort.builder.lora.LinearLayers;
import dev.loraort.builder.lora.Targets;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes the manifest.json of a prepared directory (docs/formats.md section 1) and reads it back
 * through {@link Manifest#read}, so a directory the trainer cannot read is never written.
 */
final class ManifestJson {
  static final String WEIGHTS = "base.weights";
  static final String TRAINABLE_INIT = "trainable_init.safetensors";
  static final String TOKENIZER = "tokenizer.json";

  private ManifestJson() {}

  /**
   * What {@code prepare} rewrote in the export before building on it, recorded under "prepare".
   *
   * @param widenedFloat16 float16 weights, casts, constants, inputs and outputs made float32
   *     ({@code Float16})
   * @param dequantized quantized products, tables, weights and activations made float ({@code
   *     Dequantize})
   * @param positionsFromMask whether position_ids became computed from the mask ({@code
   *     PositionIds})
   * @param mergedDecoder whether a merged decoder export's If was replaced by its no-cache branch
   *     ({@code PastKeyValues})
   * @param emptiedCaches key/value cache inputs made empty, their present outputs dropped ({@code
   *     PastKeyValues})
   * @param layerNorms decomposed LayerNorms fused into the op ({@code Fusions})
   * @param gelus decomposed GELUs fused into the op
   */
  record Rewrites(
      int widenedFloat16,
      int dequantized,
      boolean positionsFromMask,
      boolean mergedDecoder,
      int emptiedCaches,
      int layerNorms,
      int gelus) {}

  static void write(
      Path dir,
      PrepareConfig c,
      Targets targets,
      OnnxModels.Model src,
      int sourceOpset,
      Graph infer,
      Prepare.Built train,
      String headNote,
      boolean hfHead,
      List<LinearLayers.Layer> layers,
      int weightTensors,
      Rewrites rewrites,
      Map<String, Integer> nodes,
      double seconds)
      throws IOException {
    JsonObject m = new JsonObject();
    m.addProperty("contract", Manifest.CONTRACT);
    m.addProperty("id", c.id());
    m.addProperty("family", "onnx");
    boolean vision = train.batchInputs.contains("pixel_values");
    m.addProperty("task", c.task().equals("causal-lm") && vision ? "vl-causal-lm" : c.task());
    boolean seqCls = c.task().equals("seq-cls");
    Shapes inferShapes = Shapes.infer(infer);
    if (seqCls) {
      ValueType logits = inferShapes.type(TensorNames.LOGITS);
      m.addProperty("num_labels", logits.dim(-1).value());
    }
    JsonObject source = new JsonObject();
    source.addProperty("hf_class", "");
    source.addProperty("onnx", c.onnx().getFileName().toString());
    source.addProperty("sha256", FileDigest.sha256(c.onnx()));
    source.addProperty("producer", src.producer());
    source.addProperty("ir_version", src.irVersion());
    source.addProperty("opset", sourceOpset);
    source.addProperty("weights", "from " + c.onnx().getFileName() + "; " + headNote);
    JsonObject config = c.hfConfig() == null ? new JsonObject() : readConfig(c.hfConfig());
    if (c.tokenizer() != null && !config.has("pad_token_id")) {
      Long pad = padTokenId(c.tokenizer());
      if (pad != null) {
        config.addProperty("pad_token_id", pad);
      }
    }
    source.add("config", config);
    m.add("source", source);
    JsonObject graphs = new JsonObject();
    for (Prepare.Role r : Prepare.Role.values()) {
      graphs.addProperty(r.id, r.id + ".onnx");
    }
    m.add("graphs", graphs);
    m.add("inputs", ios(train.g, train.batchInputs));
    List<String> inferInputs = train.batchInputs.stream().filter(infer::isInput).toList();
    m.add("infer_inputs", ios(infer, inferInputs));
    JsonArray outs = new JsonArray();
    for (ValueInfoProto v : infer.outputs()) {
      ValueType t = inferShapes.type(v.getName());
      outs.add(io(v.getName(), t.rank() >= 0 ? t : ValueType.of(v)));
    }
    m.add("infer_outputs", outs);
    JsonObject lora = new JsonObject();
    lora.addProperty("default_rank", c.rank());
    lora.addProperty("default_alpha", c.alpha());
    lora.add("targets", new GsonBuilder().create().toJsonTree(targets.toPeft()));
    JsonArray mods = new JsonArray();
    for (LinearLayers.Layer l : layers) {
      JsonObject o = new JsonObject();
      o.addProperty("name", l.module());
      o.addProperty("in", l.in());
      o.addProperty("out", l.out());
      o.addProperty("fan_in_fan_out", l.fanInFanOut());
      o.addProperty("base_weight", l.weight());
      o.addProperty("base_layout", l.layout());
      mods.add(o);
    }
    lora.add("modules", mods);
    if (c.loraDropout() != null) { // the train graphs take lora_dropout and lora_dropout_seed
      lora.addProperty("dropout", c.loraDropout());
    }
    JsonObject peft = new JsonObject();
    peft.addProperty("prefix", "base_model.model.");
    switch (c.task()) {
      case "seq-cls":
        // a head no transformers class holds (mean pooling, a bare linear layer): PEFT's SEQ_CLS
        // class would load the LoRA onto XForSequenceClassification, whose names carry the base
        // model's prefix, and miss every tensor; FEATURE_EXTRACTION loads onto the bare model,
        // whose names these are (the head's tensors stay in the file, for the caller's own head)
        peft.addProperty("task_type", hfHead ? "SEQ_CLS" : "FEATURE_EXTRACTION");
        break;
      case "causal-lm":
        peft.addProperty("task_type", "CAUSAL_LM");
        break;
      case "embedding":
        peft.addProperty("task_type", "FEATURE_EXTRACTION");
        break;
      default:
        peft.add("task_type", JsonNull.INSTANCE); // PEFT has none for CLIP
    }
    JsonArray save = new JsonArray();
    modulesToSave(train.trainables).forEach(save::add);
    peft.add("modules_to_save", save);
    if (!c.layers().layers().isEmpty()) { // PEFT's own fields, copied into adapter_config.json
      JsonArray indices = new JsonArray();
      c.layers().layers().forEach(indices::add);
      peft.add("layers_to_transform", indices);
      if (!c.layers().patterns().isEmpty()) {
        JsonArray patterns = new JsonArray();
        c.layers().patterns().forEach(patterns::add);
        peft.add("layers_pattern", patterns);
      }
    }
    lora.add("peft", peft);
    m.add("lora", lora);
    JsonArray trainable = new JsonArray();
    for (Heads.Trainable t : train.trainables) {
      JsonObject o = new JsonObject();
      o.addProperty("name", t.name());
      JsonArray s = new JsonArray();
      for (long d : t.shape()) {
        s.add(d);
      }
      o.add("shape", s);
      trainable.add(o);
    }
    m.add("trainable", trainable);
    m.addProperty("dropout", "off");
    m.add("tokenizer", c.tokenizer() == null ? JsonNull.INSTANCE : new JsonPrimitive(TOKENIZER));
    JsonObject bw = new JsonObject();
    bw.addProperty("file", WEIGHTS);
    JsonObject origin = new JsonObject();
    origin.addProperty("prepared_from", c.origin());
    bw.add("origin", origin);
    bw.add("tensors", new JsonArray()); // the graphs say where each tensor lies (external_data)
    m.add("base_weights", bw);
    JsonObject rwp = new JsonObject();
    rwp.addProperty(
        "noise",
        "filter-wise Gaussian on W' = W0 + s B A: std_i = rwp_sigma / sqrt(in) * ||W'_i,:||"
            + " (docs/methods.md section 5)");
    rwp.addProperty(
        "outputs", "rwp_noise.<module>: the noise drawn for that layer, [out, in] (for tests)");
    rwp.addProperty(
        "generator",
        "one ONNX RandomNormalLike per adapted module, seed attribute 1000 + module index");
    m.add("rwp", rwp);
    JsonObject prep = new JsonObject();
    prep.addProperty("tool", "lora-trainer prepare");
    String v = ManifestJson.class.getPackage().getImplementationVersion();
    prep.addProperty("version", v == null ? "dev" : v);
    prep.addProperty("opset", infer.opset());
    prep.addProperty("weights_file_tensors", weightTensors);
    JsonObject f = new JsonObject();
    f.addProperty("layer_norm", rewrites.layerNorms());
    f.addProperty("gelu", rewrites.gelus());
    prep.add("fused", f);
    if (rewrites.widenedFloat16() > 0) {
      prep.addProperty(
          "float16",
          rewrites.widenedFloat16()
              + " float16 weights, casts, constants, inputs and outputs of the export, float32 in"
              + " these graphs");
    }
    if (rewrites.dequantized() > 0) {
      prep.addProperty(
          "dequantized",
          rewrites.dequantized()
              + " quantized products, tables, weights or activations of the export, made"
              + " float32 ((q - zero point) * scale)");
    }
    if (rewrites.positionsFromMask()) {
      prep.addProperty(
          PositionIds.INPUT, "the export's input, computed from attention_mask in these graphs");
    }
    if (rewrites.mergedDecoder()) {
      prep.addProperty(
          PastKeyValues.MERGED,
          "a merged decoder export: its If on "
              + PastKeyValues.MERGED
              + " replaced by the branch without a cache");
    }
    if (rewrites.emptiedCaches() > 0) {
      prep.addProperty(
          "past_key_values",
          rewrites.emptiedCaches()
              + " key/value cache inputs of the export, empty (past length 0) in these graphs;"
              + " its present outputs dropped");
    }
    if (train.recomputedSoftmaxes > 0) {
      prep.addProperty(
          "recompute_attention",
          train.recomputedSoftmaxes
              + " attention softmaxes recomputed in the backward of the train graphs, not kept from"
              + " the forward");
    }
    JsonObject n = new JsonObject();
    nodes.forEach(n::addProperty);
    prep.add("nodes", n);
    prep.addProperty("seconds", Math.round(seconds * 10) / 10.0);
    m.add("prepare", prep);
    Files.writeString(
        dir.resolve(Manifest.FILE),
        new GsonBuilder().setPrettyPrinting().create().toJson(m) + "\n",
        StandardCharsets.UTF_8);
    Manifest.read(dir); // what the trainer reads: a manifest it would refuse is never written
  }

  /** PEFT module names of the trainable tensors (their names without .weight/.bias). */
  private static List<String> modulesToSave(List<Heads.Trainable> t) {
    return t.stream()
        .map(x -> x.name().substring(0, Math.max(0, x.name().lastIndexOf('.'))))
        .distinct()
        .toList();
  }

  private static JsonArray ios(Graph g, List<String> names) {
    JsonArray a = new JsonArray();
    for (String name : names) {
      ValueInfoProto v = g.input(name);
      a.add(io(name, ValueType.of(v)));
    }
    return a;
  }

  private static JsonObject io(String name, ValueType t) {
    JsonObject o = new JsonObject();
    o.addProperty("name", name);
    o.addProperty("dtype", dtype(name, t.elemType()));
    JsonArray s = new JsonArray();
    if (t.dims() != null) {
      for (Dim d : t.dims()) {
        s.add(d.known() ? new JsonPrimitive(d.value()) : new JsonPrimitive(d.param()));
      }
    }
    o.add("shape", s);
    return o;
  }

  private static String dtype(String name, int t) {
    try {
      return Tensor.DType.ofOnnx(t).manifestName;
    } catch (IllegalArgumentException e) {
      throw new BuildException(
          "input " + name + " has ONNX type " + t + "; the trainer feeds float32, int64 or int32",
          e);
    }
  }

  private static JsonObject readConfig(Path file) throws IOException {
    try {
      return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8))
          .getAsJsonObject();
    } catch (RuntimeException e) {
      throw new BuildException(file + ": not a JSON object (a Hugging Face config.json)", e);
    }
  }

  /**
   * The padding token's id from a tokenizer.json: its padding section, else [PAD] or {@code <pad>}.
   */
  static Long padTokenId(Path tokenizer) throws IOException {
    JsonElement root;
    try {
      root = JsonParser.parseString(Files.readString(tokenizer, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      throw new BuildException(tokenizer + ": not a tokenizer.json (" + e.getMessage() + ")", e);
    }
    if (!root.isJsonObject()) {
      throw new BuildException(tokenizer + ": not a tokenizer.json (not a JSON object)");
    }
    JsonObject o = root.getAsJsonObject();
    if (o.has("padding") && o.get("padding").isJsonObject()) {
      JsonObject p = o.getAsJsonObject("padding");
      if (p.has("pad_id")) {
        return p.get("pad_id").getAsLong();
      }
    }
    if (o.has("model") && o.getAsJsonObject("model").has("vocab")) {
      JsonElement vocab = o.getAsJsonObject("model").get("vocab");
      if (vocab.isJsonObject()) {
        for (String t : List.of("[PAD]", "<pad>")) {
          if (vocab.getAsJsonObject().has(t)) {
            return vocab.getAsJsonObject().get(t).getAsLong();
          }
        }
      }
    }
    return null;
  }
}
