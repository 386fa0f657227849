package dev.loraort.artifacts.peft;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.LoraPatterns;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * A PEFT LoRA adapter directory, as {@code PeftModel.from_pretrained} loads it: keys {@code
 * base_model.model.<module>.lora_A.weight} ([r, in]) and {@code .lora_B.weight} ([out, r]), trained
 * heads under {@code base_model.model.<name>} with their modules in {@code modules_to_save}, {@code
 * fan_in_fan_out} for GPT-2's Conv1D, {@code rank_pattern} / {@code alpha_pattern} for modules with
 * their own r and alpha (keys matched against the module names PEFT sees, which are the manifest's
 * under the prefix {@code base_model.model.}), and {@code __metadata__ {"format": "pt"}}.
 */
public final class PeftDirectory {
  /** The config file. */
  public static final String CONFIG = "adapter_config.json";

  /** The weights file. */
  public static final String WEIGHTS = "adapter_model.safetensors";

  /** The prefix under which PEFT's key of a module's tensor is {@code prefix + module name}. */
  private static final String PEFT_PREFIX = "base_model.model.";

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls().create();

  private PeftDirectory() {}

  /**
   * Writes the directory (swapped in whole: an existing one is replaced only when complete).
   *
   * @param dir the directory
   * @param a the adapter
   * @param m the model it was trained on (prefix, targets, task, heads)
   * @throws IOException if writing fails
   */
  public static void write(Path dir, AdapterWeights a, Manifest m) throws IOException {
    String prefix = m.lora().peftPrefix();
    Map<String, Tensor> out = new LinkedHashMap<>();
    a.tensors().forEach((k, v) -> out.put(prefix + k, v));
    TreeSet<String> targets = new TreeSet<>();
    boolean fanInFanOut = false;
    for (Manifest.LoraModule mod : m.lora().modules()) {
      targets.add(mod.name().substring(mod.name().lastIndexOf('.') + 1));
      fanInFanOut |= mod.fanInFanOut();
    }
    JsonObject c = new JsonObject();
    c.addProperty("peft_type", "LORA");
    c.addProperty("task_type", m.lora().peftTaskType());
    // the Hugging Face id where the manifest knows it (prepare --base-model), else the model id
    com.google.gson.JsonObject hf = m.hfConfig();
    boolean named =
        hf != null
            && hf.has("_name_or_path")
            && hf.get("_name_or_path").isJsonPrimitive()
            && !hf.get("_name_or_path").getAsString().isBlank();
    c.addProperty(
        "base_model_name_or_path", named ? hf.get("_name_or_path").getAsString() : m.id());
    c.add("revision", null);
    c.addProperty("inference_mode", true);
    c.addProperty("r", a.rank());
    c.addProperty("lora_alpha", a.alpha());
    // the dropout the adapter was trained with (its metadata), as PEFT records its LoraConfig's
    c.addProperty("lora_dropout", loraDropout(a));
    JsonArray t = new JsonArray();
    targets.forEach(t::add);
    c.add("target_modules", t);
    if (!m.lora().layersToTransform().isEmpty()) {
      JsonArray layers = new JsonArray();
      m.lora().layersToTransform().forEach(layers::add);
      c.add("layers_to_transform", layers);
      JsonArray patterns = new JsonArray();
      m.lora().layersPattern().forEach(patterns::add);
      c.add("layers_pattern", patterns.isEmpty() ? null : patterns);
    }
    // PEFT matches these keys against its module names: ours, behind what the prefix adds
    JsonObject patterns = a.patterns().toJson();
    c.add(LoraPatterns.RANK_PATTERN, patterns.get(LoraPatterns.RANK_PATTERN));
    c.add(LoraPatterns.ALPHA_PATTERN, patterns.get(LoraPatterns.ALPHA_PATTERN));
    requirePeftNames(dir.resolve(CONFIG), a.patterns(), m);
    c.addProperty("fan_in_fan_out", fanInFanOut);
    c.addProperty("bias", "none");
    c.addProperty("use_rslora", a.rsLora());
    c.addProperty("use_dora", false);
    c.addProperty("init_lora_weights", true);
    JsonArray save = new JsonArray();
    m.lora().modulesToSave().forEach(save::add);
    c.add("modules_to_save", m.trainable().isEmpty() ? null : save);
    byte[] config = GSON.toJson(c).getBytes(StandardCharsets.UTF_8);
    double plain = LoraPatterns.scale(a.rank(), a.alpha(), false);
    double stabilized = LoraPatterns.scale(a.rank(), a.alpha(), true);
    if (!AdapterWeights.close(a.scale(), plain) && !AdapterWeights.close(a.scale(), stabilized)) {
      throw new IOException(
          dir
              + ": PEFT computes the scale as lora_alpha / r = "
              + plain
              + " (or lora_alpha / sqrt(r) = "
              + stabilized
              + " with use_rslora), the adapter's is "
              + a.scale()
              + "; it cannot be written as a PEFT adapter unchanged");
    }
    AtomicFiles.writeDirectory(
        dir,
        tmp -> {
          Files.write(tmp.resolve(CONFIG), config);
          Safetensors.write(tmp.resolve(WEIGHTS), out, Map.of("format", "pt"));
        });
  }

  /**
   * PEFT matches rank_pattern / alpha_pattern keys against the base model's module names: {@code
   * base_model.model.} + name is the key of our tensors, so with that prefix PEFT's names are ours.
   * Under another prefix the keys could match other modules there: refused.
   */
  private static void requirePeftNames(Path config, LoraPatterns patterns, Manifest m)
      throws IOException {
    if (!patterns.isEmpty() && !PEFT_PREFIX.equals(m.lora().peftPrefix())) {
      throw new IOException(
          config
              + ": rank_pattern / alpha_pattern are matched against PEFT's module names, and the"
              + " manifest's PEFT prefix "
              + m.lora().peftPrefix()
              + " makes them differ from "
              + m.id()
              + "'s ("
              + PEFT_PREFIX
              + " + name); not supported");
    }
  }

  /**
   * Reads a PEFT directory written for this model.
   *
   * @param dir the directory
   * @param m the model (for the key prefix)
   * @return the adapter under contract names
   * @throws IOException if a file is missing or malformed, or a key does not start with the prefix
   */
  public static AdapterWeights read(Path dir, Manifest m) throws IOException {
    JsonObject c;
    try {
      c =
          JsonParser.parseString(Files.readString(dir.resolve(CONFIG), StandardCharsets.UTF_8))
              .getAsJsonObject();
    } catch (NoSuchFileException e) {
      throw new IOException(dir + " is not a PEFT adapter directory: no " + CONFIG, e);
    } catch (JsonParseException | IllegalStateException | CharacterCodingException e) {
      throw new IOException(dir.resolve(CONFIG) + ": not a JSON object", e);
    }
    if (!c.has("r")
        || !c.has("lora_alpha")
        || !c.has("peft_type")
        || !"LORA".equals(c.get("peft_type").getAsString())) {
      throw new IOException(
          dir.resolve(CONFIG) + ": not a LoRA config (needs peft_type LORA, r, lora_alpha)");
    }
    int r;
    double alpha;
    boolean rs;
    try {
      r = c.get("r").getAsInt();
      alpha = c.get("lora_alpha").getAsDouble();
      rs = c.has("use_rslora") && c.get("use_rslora").getAsBoolean();
    } catch (IllegalStateException | UnsupportedOperationException | NumberFormatException e) {
      throw new IOException(
          dir.resolve(CONFIG)
              + ": r, lora_alpha and use_rslora must be a number, a number and"
              + " a boolean",
          e);
    }
    if (r < 1 || !(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IOException(
          dir.resolve(CONFIG) + ": r " + r + " and lora_alpha " + alpha + "; both must be > 0");
    }
    String prefix = m.lora().peftPrefix();
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e :
        Safetensors.read(dir.resolve(WEIGHTS)).tensors().entrySet()) {
      if (!e.getKey().startsWith(prefix)) {
        throw new IOException(
            dir.resolve(WEIGHTS) + ": key " + e.getKey() + " does not start with " + prefix);
      }
      tensors.put(e.getKey().substring(prefix.length()), e.getValue());
    }
    LoraPatterns patterns = LoraPatterns.fromJson(c, dir.resolve(CONFIG).toString());
    requirePeftNames(dir.resolve(CONFIG), patterns, m);
    return new AdapterWeights(
        tensors, r, alpha, LoraPatterns.scale(r, alpha, rs), rs, patterns, Map.of());
  }

  /** lora_dropout from an adapter's metadata (written by the trainer); 0 when absent. */
  private static double loraDropout(AdapterWeights a) throws IOException {
    String v = a.metadata().getOrDefault("lora_dropout", "0");
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IOException("adapter metadata lora_dropout is not a number: " + v, e);
    }
  }
}
