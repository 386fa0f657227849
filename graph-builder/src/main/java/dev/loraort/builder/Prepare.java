package dev.loraort.builder;

import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.artifacts.safetensors.Safetensors;
import dev.loraort.builder.autodiff.AttentionRecompute;
import dev.loraort.builder.autodiff.Backward;
import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.ir.CudaRewrites;
import dev.loraort.builder.ir.Dequantize;
import dev.loraort.builder.ir.Float16;
import dev.loraort.builder.ir.Fusions;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.MixedPrecision;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.OpsetNormalizer;
import dev.loraort.builder.ir.PastKeyValues;
import dev.loraort.builder.ir.PositionIds;
import dev.loraort.builder.ir.SharedWeights;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.builder.ir.WeightsFile;
import dev.loraort.builder.lora.LinearLayers;
import dev.loraort.builder.lora.LoraInjector;
import dev.loraort.builder.lora.Targets;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a lora-graph/1 model directory from a plain inference ONNX model: reads and normalizes it,
 * injects LoRA into the target layers, adds the task's head and loss, differentiates, and writes
 * train.onnx, train_fused.onnx (the same with fused backward kernels), infer.onnx, train_rwp.onnx,
 * train_bf16.onnx and train_fused_bf16.onnx (bf16 mixed precision; all reading one base.weights
 * file), trainable_init.safetensors and manifest.json. The directory appears only once complete.
 */
public final class Prepare {

  /** Graph roles, as the manifest names them. */
  enum Role {
    INFER("infer"),
    TRAIN("train"),
    /** train.onnx with the fused backward kernels (dev.loraort ops) */
    TRAIN_FUSED("train_fused"),
    TRAIN_RWP("train_rwp"),
    /** train.onnx in bf16 mixed precision ({@link MixedPrecision}) */
    TRAIN_BF16("train_bf16", TRAIN),
    /** train_fused.onnx in bf16 mixed precision */
    TRAIN_FUSED_BF16("train_fused_bf16", TRAIN_FUSED);

    final String id;

    /** the role whose graph this one rewrites in bf16, or null for a graph built from the model */
    final Role fp32;

    Role(String id) {
      this(id, null);
    }

    Role(String id, Role fp32) {
      this.id = id;
      this.fp32 = fp32;
    }
  }

  /**
   * What was built.
   *
   * @param dir the model directory
   * @param modules the adapted modules
   * @param trainables the non-LoRA trainable tensors
   * @param nodes node count of each graph by role
   * @param hostReads the reads of host values by device kernels left in train.onnx ({@link
   *     CudaRewrites#hostReads}): empty when the CUDA EP can replay the step as a CUDA graph
   * @param seconds wall time
   */
  public record Result(
      Path dir,
      List<LinearLayers.Layer> modules,
      List<Heads.Trainable> trainables,
      Map<String, Integer> nodes,
      List<String> hostReads,
      double seconds) {}

  private final PrepareConfig c;
  private final OnnxModels.Model src;
  private final Graph base;
  private final int sourceOpset;
  private final String hidden;
  private final String existingLogits;
  private final List<String> batchInputs = new ArrayList<>();
  private final Set<String> modules;
  private final List<LinearLayers.Layer> adapted;
  private final List<String> save;
  private final Targets targets;
  private final ManifestJson.Rewrites rewrites;

  /**
   * What the Hugging Face class that matches the prepared model calls the exported model, prefixed
   * to every module name so that adapters and PEFT directories load onto that class: {@code bert.}
   * for a bare BERT encoder (the langchain4j and DJL exports of MiniLM, BGE, E5) under BERT's own
   * head (cls pooling, dense-tanh pooler, classifier: BertForSequenceClassification); empty
   * otherwise.
   */
  private final String hfPrefix;

  private Prepare(PrepareConfig c) {
    this.c = c;
    this.src = OnnxModels.read(c.onnx());
    this.base = src.graph();
    this.sourceOpset = base.opset();
    boolean merged = PastKeyValues.inlineNoCacheBranch(base);
    List<Node> legacy = OpsetNormalizer.normalize(base);
    base.sortTopologically();
    int widened = Float16.widen(base);
    int dequantized = Dequantize.apply(base);
    OpsetNormalizer.refuseForeignOps(base, Set.of()); // what Dequantize could not make standard
    boolean positionsFromMask = PositionIds.fromMask(base);
    int emptiedCaches = PastKeyValues.toEmpty(base);
    renameBatchDims(base);
    OpsetNormalizer.fixLegacySoftmax(base, legacy, Shapes.infer(base)::rank);
    int[] fused = Fusions.apply(base, Shapes.infer(base));
    this.rewrites =
        new ManifestJson.Rewrites(
            widened, dequantized, positionsFromMask, merged, emptiedCaches, fused[0], fused[1]);
    CudaRewrites.apply(base, Shapes.infer(base));
    Shapes s = Shapes.infer(base);
    if (SharedWeights.apply(base, s) > 0) {
      s = Shapes.infer(base); // only a rewrite changes what the rest reads
    }
    base.inputs().forEach(v -> batchInputs.add(v.getName()));
    this.existingLogits = findLogits(s);
    this.hidden = existingLogits != null || ownOutputs() ? null : findHidden(s);
    List<String> chosen = new ArrayList<>();
    List<String> candidates = new ArrayList<>();
    this.hfPrefix = bertBase(base) ? "bert." : "";
    List<LinearLayers.Layer> all = named(LinearLayers.find(base));
    Set<String> outputLayers = outputLayers(base, all);
    all.forEach(l -> candidates.add(l.module()));
    Targets t = c.targets() != null ? c.targets() : Targets.peftDefault(candidates);
    Set<String> quantized = Dequantize.remaining(base);
    if (candidates.isEmpty() && !quantized.isEmpty()) {
      throw new BuildException(
          c.onnx()
              + ": a quantized export prepare cannot make float (ops "
              + quantized
              + "); it reads float exports and ONNX Runtime's dynamic quantization"
              + " (DynamicQuantizeLinear + MatMulInteger): export the model unquantized");
    }
    if (t == null) {
      throw new BuildException(
          c.onnx()
              + ": PEFT has no default LoRA targets for these module names; choose with --targets"
              + " (names or suffixes), --target-regex or --targets all-linear. Linear layers: "
              + abbreviate(candidates));
    }
    this.save = saveList();
    for (LinearLayers.Layer l : all) {
      if (saved(l.module()) && !l.weight().equals(l.module() + ".weight")) {
        throw new BuildException(
            c.onnx()
                + ": modules_to_save takes "
                + l.module()
                + ", whose weight this export keeps as an anonymous transposed copy ("
                + l.weight()
                + "); it could not be saved under its name. Export with torch.onnx's dynamo"
                + " exporter (it keeps weight names), or leave the module out");
      }
    }
    for (String m : candidates) {
      // a module trained in full (modules_to_save) gets no LoRA, as in PEFT
      if (t.matches(m, outputLayers.contains(m)) && c.layers().accepts(m) && !saved(m)) {
        chosen.add(m);
      }
    }
    if (chosen.isEmpty()) {
      throw new BuildException(
          c.onnx()
              + ": LoRA targets "
              + t
              + (c.layers().layers().isEmpty() ? "" : " in " + c.layers())
              + " match none of the model's "
              + candidates.size()
              + " linear layers: "
              + abbreviate(candidates));
    }
    this.targets = t;
    this.adapted = all.stream().filter(l -> chosen.contains(l.module())).toList();
    this.modules = Set.copyOf(chosen);
  }

  /**
   * Builds and writes the directory.
   *
   * @param c what to build
   * @return what was built
   * @throws BuildException if the model cannot be trained as asked; the message names the file,
   *     node or tensor
   * @throws IOException if writing fails (an existing directory is left as it was)
   */
  public static Result run(PrepareConfig c) throws IOException {
    long t0 = System.nanoTime();
    if (Files.exists(c.out()) && !c.overwrite()) {
      try (var list = Files.list(c.out())) {
        if (list.findAny().isPresent()) {
          throw new BuildException(
              c.out() + " exists and is not empty; pass --overwrite to replace it");
        }
      }
    }
    Prepare p = new Prepare(c);
    Map<Role, Built> built = new LinkedHashMap<>();
    for (Role r : Role.values()) {
      built.put(
          r, r.fp32 == null ? p.build(r) : built.get(r.fp32).bf16(r.fp32 == Role.TRAIN_FUSED));
    }
    Map<String, Integer> nodes = new LinkedHashMap<>();
    built.forEach((r, b) -> nodes.put(r.id, b.g.nodes().size()));
    Built train = built.get(Role.TRAIN);
    double[] seconds = new double[1];
    AtomicFiles.writeDirectory(
        c.out(),
        dir -> {
          List<WeightsFile.Entry> weights;
          try (WeightsFile wf = new WeightsFile(dir.resolve(ManifestJson.WEIGHTS))) {
            for (Map.Entry<Role, Built> e : built.entrySet()) {
              OnnxModels.write(
                  e.getValue().g,
                  dir.resolve(e.getKey().id + ".onnx"),
                  wf,
                  Map.of("contract", "lora-graph/1", "graph", e.getKey().id, "model", c.id()),
                  "lora-trainer prepare");
            }
            weights = wf.entries();
          }
          if (!train.trainables.isEmpty()) {
            Map<String, Tensor> init = new LinkedHashMap<>();
            for (Heads.Trainable t : train.trainables) {
              init.put(t.name(), Tensor.ofFloats(t.shape(), t.init()));
            }
            Safetensors.write(dir.resolve(ManifestJson.TRAINABLE_INIT), init, Map.of());
          }
          if (c.tokenizer() != null) {
            Files.copy(c.tokenizer(), dir.resolve(ManifestJson.TOKENIZER));
          }
          seconds[0] = (System.nanoTime() - t0) / 1e9;
          ManifestJson.write(
              dir,
              c,
              p.targets,
              p.src,
              p.sourceOpset,
              built.get(Role.INFER).g,
              train,
              p.headNote(),
              p.hfHead(),
              p.adapted,
              weights.size(),
              p.rewrites,
              nodes,
              seconds[0]);
        });
    return new Result(
        c.out(), p.adapted, train.trainables, nodes, CudaRewrites.hostReads(train.g), seconds[0]);
  }

  /** One built graph with the trainables its head added. */
  static final class Built {
    final Graph g;
    final List<Heads.Trainable> trainables;
    final List<String> batchInputs;
    final int recomputedSoftmaxes; // AttentionRecompute's count

    Built(
        Graph g,
        List<Heads.Trainable> trainables,
        List<String> batchInputs,
        int recomputedSoftmaxes) {
      this.g = g;
      this.recomputedSoftmaxes = recomputedSoftmaxes;
      this.trainables = List.copyOf(trainables);
      this.batchInputs = List.copyOf(batchInputs);
    }

    /**
     * The same graph in bf16 mixed precision.
     *
     * @param kernels whether the graph uses the fused-kernel library (its softmax may too)
     */
    Built bf16(boolean kernels) {
      Graph low = g.copy();
      MixedPrecision.bf16(low, kernels);
      Backward.listGradientNodesLast(low);
      return new Built(low, trainables, batchInputs, recomputedSoftmaxes);
    }
  }

  private List<LinearLayers.Layer> layers(Graph g) {
    List<LinearLayers.Layer> out = new ArrayList<>();
    for (LinearLayers.Layer l : named(LinearLayers.find(g))) {
      if (modules.contains(l.module())) {
        out.add(l);
      }
    }
    return out;
  }

  /** Tasks whose loss reads the model's own outputs (all kept in the infer graph). */
  private boolean ownOutputs() {
    return existingLogits != null || c.task().equals("causal-lm") || c.task().equals("contrastive");
  }

  private Built build(Role role) {
    Graph g = base.copy();
    if (!ownOutputs()) {
      g.outputs().removeIf(v -> !v.getName().equals(hidden));
    } else if (existingLogits != null) {
      g.outputs().removeIf(v -> !v.getName().equals(existingLogits));
    }
    g.removeDeadNodes();
    List<LinearLayers.Layer> adapted = layers(g); // named before injection rewires the layers
    LoraInjector.Injected injected =
        LoraInjector.inject(
            g, adapted, role == Role.TRAIN_RWP, role != Role.INFER && c.loraDropout() != null);
    List<Heads.Trainable> trainables = new ArrayList<>(modulesToSave(g));
    Shapes s = Shapes.infer(g);
    String out;
    if (c.task().equals("embedding")) {
      String pooled = Heads.pool(g, hidden, maskInput(), c.pooling());
      out = Heads.l2Normalize(g, pooled);
    } else if (ownOutputs()) {
      out = TensorNames.LOGITS;
    } else {
      long width = hiddenSize(s);
      String pooled = Heads.pool(g, hidden, maskInput(), c.pooling());
      out =
          Heads.classifier(
              g, pooled, width, c.numLabels(), c.head(), hfPrefix, c.seed(), trainables);
    }
    List<ValueInfoProto> kept = new ArrayList<>(g.outputs());
    g.outputs().clear();
    List<String> inputs = new ArrayList<>(batchInputs);
    if (role == Role.INFER) {
      if (ownOutputs()) {
        g.outputs().addAll(kept);
      } else {
        String name =
            c.task().equals("embedding") ? TensorNames.SENTENCE_EMBEDDING : TensorNames.LOGITS;
        output(g, out, name, Shapes.infer(g).type(out));
      }
      finish(g);
      return new Built(g, trainables, inputs, 0); // no backward, nothing recomputed
    }
    String loss;
    String labels = "labels";
    switch (c.task()) {
      case "embedding":
        loss = Heads.inBatchContrastive(g, out, positives(g, out, inputs), 20);
        break;
      case "contrastive":
        loss = Heads.symmetricContrastive(g, out);
        break;
      case "causal-lm":
        g.inputs()
            .add(
                new ValueType(DataType.INT64_VALUE, List.of(Dim.sym("batch"), Dim.sym("seq")))
                    .toValueInfo(labels));
        inputs.add(labels);
        loss = Heads.nextTokenCrossEntropy(g, out, labels, role == Role.TRAIN_FUSED);
        break;
      default:
        g.inputs()
            .add(
                new ValueType(DataType.INT64_VALUE, List.of(Dim.sym("batch"))).toValueInfo(labels));
        inputs.add(labels);
        loss = Heads.crossEntropy(g, out, labels, classes(s, out));
    }
    List<String> wrt = new ArrayList<>();
    for (LinearLayers.Layer l : adapted) {
      wrt.add(TensorNames.loraA(l.module()));
      wrt.add(TensorNames.loraB(l.module()));
    }
    trainables.forEach(t -> wrt.add(t.name()));
    g.sortTopologically();
    Map<String, String> grads =
        Backward.build(g, Shapes.infer(g), loss, wrt, injected.noises(), role == Role.TRAIN_FUSED);
    int recomputed = c.recomputeAttention() ? AttentionRecompute.apply(g) : 0;
    output(g, loss, TensorNames.LOSS, new ValueType(DataType.FLOAT_VALUE, List.of()));
    for (String w : wrt) {
      output(g, grads.get(w), TensorNames.grad(w), ValueType.of(g.input(w)));
    }
    for (LinearLayers.Layer l : role == Role.TRAIN_RWP ? adapted : List.<LinearLayers.Layer>of()) {
      g.outputs()
          .add(
              new ValueType(DataType.FLOAT_VALUE, List.of(Dim.of(l.out()), Dim.of(l.in())))
                  .toValueInfo(injected.noiseOutputs().get(adapted.indexOf(l))));
    }
    finish(g);
    return new Built(g, trainables, inputs, recomputed);
  }

  /**
   * True for a bare BERT encoder (module names from {@code encoder.}, a token_type_ids input, no
   * head of its own) trained under BERT's classification head with no other modules to save.
   */
  private boolean bertBase(Graph g) {
    if (!c.task().equals("seq-cls")
        || existingLogits != null
        || c.head() != Heads.Head.DENSE_TANH
        || c.pooling() != Heads.Pooling.CLS
        || !c.modulesToSave().isEmpty()
        || g.inputs().stream().noneMatch(v -> v.getName().equals("token_type_ids"))) {
      return false;
    }
    List<LinearLayers.Layer> all = LinearLayers.find(g);
    return !all.isEmpty() && all.stream().allMatch(l -> l.module().startsWith("encoder."));
  }

  /** The layers under the names the matching Hugging Face class gives them. */
  private List<LinearLayers.Layer> named(List<LinearLayers.Layer> layers) {
    if (hfPrefix.isEmpty()) {
      return layers;
    }
    return layers.stream()
        .map(
            l ->
                new LinearLayers.Layer(
                    l.node(),
                    hfPrefix + l.module(),
                    l.weight(),
                    l.layout(),
                    l.in(),
                    l.out(),
                    l.fanInFanOut()))
        .toList();
  }

  /**
   * @return whether PEFT's SEQ_CLS classes hold the head: the model's own, or BERT's under its name
   */
  boolean hfHead() {
    return existingLogits != null || !hfPrefix.isEmpty();
  }

  /** What the head is, for the manifest's source.weights. */
  private String headNote() {
    if (c.task().equals("embedding")) {
      return c.pooling().name().toLowerCase(java.util.Locale.ROOT)
          + " pooling, L2-normalized; no head";
    }
    if (existingLogits != null) {
      return "the model's own classifier";
    }
    if (ownOutputs()) {
      return "the model's own outputs";
    }
    return c.pooling().name().toLowerCase(java.util.Locale.ROOT)
        + " pooling; new "
        + c.head().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')
        + " head, normal(0, 0.02) weights with seed "
        + c.seed();
  }

  private static void finish(Graph g) {
    g.removeDeadNodes();
    g.sortTopologically();
    CudaRewrites.moveDimsToDevice(g);
    Backward.listGradientNodesLast(g);
  }

  /** Exposes {@code value} as graph output {@code name} (through Identity when they differ). */
  private static void output(Graph g, String value, String name, ValueType type) {
    if (!value.equals(name)) {
      g.add(new Node("Identity", "", "", List.of(value), List.of(name), Map.of()));
    }
    g.outputs().add(type.toValueInfo(name));
  }

  /**
   * Names the batch inputs' dims as the contract does: a token input ([batch, seq] integers:
   * input_ids, attention_mask, token_type_ids) gets {@code batch} and {@code seq}, images ([batch,
   * channels, height, width] floats) {@code batch}; other inputs are renamed only where they share
   * a token input's symbols (Qwen2-VL's pixel rows are not the batch).
   */
  private static void renameBatchDims(Graph g) {
    Map<String, String> rename = new HashMap<>();
    for (ValueInfoProto v : g.inputs()) {
      ValueType t = ValueType.of(v);
      if (t.rank() == 2 && !Tensors.isFloat(t.elemType())) {
        claim(rename, t.dim(0), "batch");
        claim(rename, t.dim(1), "seq");
      }
    }
    for (int k = 0; k < g.inputs().size(); k++) {
      ValueType t = ValueType.of(g.inputs().get(k));
      if (t.rank() < 0) {
        continue;
      }
      boolean token = t.rank() == 2 && !Tensors.isFloat(t.elemType());
      boolean images = t.rank() == 4 && Tensors.isFloat(t.elemType()); // [batch, c, h, w]
      List<Dim> d = new ArrayList<>();
      for (int i = 0; i < t.rank(); i++) {
        Dim x = t.dim(i);
        if (images && i == 0 && !x.known()) {
          d.add(Dim.sym("batch"));
        } else if (token && !x.known()) {
          d.add(Dim.sym(i == 0 ? "batch" : "seq"));
        } else {
          d.add(!x.known() && rename.containsKey(x.param()) ? Dim.sym(rename.get(x.param())) : x);
        }
      }
      g.inputs().set(k, new ValueType(t.elemType(), d).toValueInfo(g.inputs().get(k).getName()));
    }
  }

  private static void claim(Map<String, String> rename, Dim d, String name) {
    if (!d.known()) {
      rename.putIfAbsent(d.param(), name);
    }
  }

  private String findLogits(Shapes s) {
    if (c.task().equals("causal-lm") || c.task().equals("contrastive")) {
      int want = c.task().equals("causal-lm") ? 3 : 2;
      if (!base.isOutput(TensorNames.LOGITS) || s.rank(TensorNames.LOGITS) != want) {
        throw new BuildException(
            c.onnx()
                + ": "
                + c.task()
                + " needs an output named logits of rank "
                + want
                + (want == 3
                    ? " [batch, seq, vocab]"
                    : " [images, texts] (CLIP's logits_per_image)")
                + "; the model's outputs: "
                + base.outputs().stream()
                    .map(v -> v.getName() + " " + s.type(v.getName()))
                    .toList());
      }
      return null;
    }
    if (!c.task().equals("seq-cls") || c.hiddenOutput() != null) {
      return null;
    }

    for (ValueInfoProto v : base.outputs()) {
      if (v.getName().equals(TensorNames.LOGITS) && s.rank(TensorNames.LOGITS) == 2) {
        return TensorNames.LOGITS;
      }
    }
    return null;
  }

  private String findHidden(Shapes s) {
    List<String> names = new ArrayList<>();
    base.outputs().forEach(v -> names.add(v.getName()));
    if (c.hiddenOutput() != null) {
      if (!names.contains(c.hiddenOutput())) {
        throw new BuildException(
            c.onnx() + ": no output " + c.hiddenOutput() + "; its outputs: " + names);
      }
      return c.hiddenOutput();
    }
    if (names.contains("last_hidden_state")) {
      return "last_hidden_state";
    }
    for (String n : names) {
      if (s.rank(n) == 3 && Tensors.isFloat(s.elemType(n))) {
        return n;
      }
    }
    throw new BuildException(
        c.onnx()
            + ": no output holds token states [batch, seq, hidden] (outputs: "
            + names
            + "); name one with --hidden-output");
  }

  private long hiddenSize(Shapes s) {
    Dim d = s.type(hidden).dims() == null ? null : s.type(hidden).dim(-1);
    if (d == null || !d.known()) {
      throw new BuildException(
          c.onnx()
              + ": the width of "
              + hidden
              + " is not known from the graph: "
              + s.type(hidden));
    }
    return d.value();
  }

  private int classes(Shapes s, String logits) {
    if (existingLogits == null) {
      return c.numLabels();
    }
    Dim d = s.type(logits).dim(-1);
    if (!d.known()) {
      throw new BuildException(c.onnx() + ": the number of classes of " + logits + " is not fixed");
    }
    return Math.toIntExact(d.value());
  }

  private String maskInput() {
    return batchInputs.contains("attention_mask") ? "attention_mask" : null;
  }

  /** The linear layers whose output is a graph output (directly or through a bias Add). */
  private static Set<String> outputLayers(Graph g, List<LinearLayers.Layer> all) {
    Set<String> outs = new java.util.HashSet<>();
    g.outputs().forEach(v -> outs.add(v.getName()));
    Map<String, List<Node>> consumers = g.consumers();
    Set<String> layers = new java.util.HashSet<>();
    for (LinearLayers.Layer l : all) {
      String y = l.output();
      boolean out = outs.contains(y);
      for (Node n : consumers.getOrDefault(y, List.of())) {
        out |= n.op().equals("Add") && outs.contains(n.out(0));
      }
      if (out) {
        layers.add(l.module());
      }
    }
    return layers;
  }

  /** PEFT's modules_to_save: the given ones, or for a model's own classifier its default. */
  private List<String> saveList() {
    List<String> save = new ArrayList<>(c.modulesToSave());
    if (save.isEmpty() && existingLogits != null) {
      save.addAll(List.of("classifier", "score")); // PEFT's default for SEQ_CLS
    }
    return save;
  }

  /** True if the module or one of its ancestors is saved in full. */
  private boolean saved(String module) {
    for (String m = module; !m.isEmpty(); ) {
      for (String s : save) {
        if (m.equals(s) || m.endsWith("." + s)) {
          return true;
        }
      }
      int up = m.lastIndexOf('.');
      m = up < 0 ? "" : m.substring(0, up);
    }
    return false;
  }

  /** PEFT's modules_to_save: the initializers of those modules become trainable graph inputs. */
  private List<Heads.Trainable> modulesToSave(Graph g) {
    List<Heads.Trainable> out = new ArrayList<>();
    for (String name : new ArrayList<>(g.initializers().keySet())) {
      int dot = name.lastIndexOf('.');
      if (dot < 0) {
        continue;
      }
      // PEFT matches the saved module itself: a tensor belongs to it if one of its ancestors is it
      boolean match = saved(name.substring(0, dot));
      TensorProto t = g.initializers().get(name);
      if (!match || t.getDataType() != DataType.FLOAT_VALUE) {
        continue;
      }
      long[] shape = Tensors.dims(t);
      ByteBuffer b = Tensors.raw(t).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      float[] v = new float[Math.toIntExact(Tensors.numel(t))];
      b.asFloatBuffer().get(v);
      g.initializers().remove(name);
      List<Dim> d = new ArrayList<>();
      for (long x : shape) {
        d.add(Dim.of(x));
      }
      g.inputs().add(new ValueType(DataType.FLOAT_VALUE, d).toValueInfo(name));
      out.add(new Heads.Trainable(name, shape, v));
    }
    if (!c.modulesToSave().isEmpty() && out.isEmpty()) {
      throw new BuildException(
          c.onnx() + ": modules to save " + c.modulesToSave() + " match no float initializer");
    }
    return out;
  }

  /**
   * Encodes the second text of each pair with the same encoder: the nodes that depend on the batch
   * are cloned onto {@code positive_*} inputs; weights, LoRA inputs and in-graph noise are shared.
   */
  private String positives(Graph g, String embeddings, List<String> inputs) {
    Map<String, String> rename = new HashMap<>();
    for (String b : batchInputs) {
      String p = TensorNames.POSITIVE + b;
      rename.put(b, p);
      // the second texts share the batch but not the anchors' sequence length
      ValueType t = ValueType.of(g.input(b));
      List<Dim> d = new ArrayList<>();
      for (Dim x : t.dims()) {
        d.add(x.equals(Dim.sym("seq")) ? Dim.sym(TensorNames.POSITIVE + "seq") : x);
      }
      g.inputs().add(new ValueType(t.elemType(), d).toValueInfo(p));
      inputs.add(p);
    }
    for (Node n : new ArrayList<>(g.nodes())) {
      if (n.inputs().stream().noneMatch(rename::containsKey)) {
        continue;
      }
      List<String> in = new ArrayList<>();
      n.inputs().forEach(i -> in.add(rename.getOrDefault(i, i)));
      List<String> out = new ArrayList<>();
      for (String o : n.outputs()) {
        String p = o.isEmpty() ? o : g.fresh("positive/" + o);
        if (!o.isEmpty()) {
          rename.put(o, p);
        }
        out.add(p);
      }
      g.add(new Node(n.op(), n.domain(), "", in, out, n.attrs()));
    }
    return rename.get(embeddings);
  }

  private static String abbreviate(List<String> names) {
    return names.size() <= 12
        ? names.toString()
        : names.subList(0, 12) + " and " + (names.size() - 12) + " more";
  }
}
