package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.proto.Onnx;
import dev.loraort.artifacts.safetensors.Safetensors;
import dev.loraort.builder.Prepare;
import dev.loraort.builder.PrepareConfig;
import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.ir.CudaRewrites;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.PastKeyValues;
import dev.loraort.builder.ir.PositionIds;
import dev.loraort.builder.lora.Targets;
import dev.loraort.kernels.FusedKernels;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.conformance.ConformanceReport;
import dev.loraort.trainer.conformance.ConformanceRun;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.FixtureCheck;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The graphs {@code prepare} builds from plain inference exports (onnx-models/&lt;id&gt;/plain: the
 * exporter's weights through torch.onnx's dynamo and TorchScript exporters) against PyTorch: the
 * golden traces of every method, the fixtures' loss and gradients, and the exporter's graphs of the
 * real all-MiniLM-L6-v2 built by the other route.
 */
class PrepareConformanceTest {
  private static final Map<String, Manifest> PREPARED = new HashMap<>();

  /**
   * Prepares a plain export once per test run, in a temporary directory, as a user would: the task
   * of its family; BERT's pooler trained with its classifier (as the exporter does: the embedding
   * exports ship none); Qwen2-VL with its config.json (image token, merge size) and the exporter's
   * targets.
   */
  static Manifest prepared(String id, String file) {
    return prepared(id, file, false);
  }

  /** As {@link #prepared(String, String)}, with attention's probabilities recomputed or not. */
  static synchronized Manifest prepared(String id, String file, boolean recomputeAttention) {
    return PREPARED.computeIfAbsent(
        id + "/" + file + (recomputeAttention ? " recompute-attention" : ""),
        k -> {
          try {
            Path out = Scratch.dir("prepared").resolve(id);
            String task =
                id.endsWith("-lm") || id.equals("tiny-qwen2vl")
                    ? "causal-lm"
                    : id.equals("tiny-clip") ? "contrastive" : "seq-cls";
            PrepareConfig.Builder b =
                PrepareConfig.defaults(Path.of("../onnx-models", id, "plain", file), out, task)
                    .toBuilder()
                    .id(id)
                    .recomputeAttention(recomputeAttention);
            if (id.equals("tiny-bert-cls")) {
              b.modulesToSave(List.of("classifier", "pooler"));
            }
            if (id.equals("tiny-qwen2vl")) {
              Path config = out.resolveSibling("config.json");
              JsonObject manifest =
                  JsonParser.parseString(
                          Files.readString(Path.of("../onnx-models", id, Manifest.FILE)))
                      .getAsJsonObject();
              Files.writeString(
                  config, manifest.getAsJsonObject("source").get("config").toString());
              b.hfConfig(config).targets(Targets.parse("q_proj,v_proj,qkv", null));
            }
            Prepare.run(b.build());
            return Manifest.read(out);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  static Stream<Arguments> goldenCases() throws IOException {
    List<Arguments> cases = new ArrayList<>();
    try (Stream<Path> models = Files.list(GoldenTraceTest.GOLDEN)) {
      for (Path model : models.sorted().toList()) {
        try (Stream<Path> methods = Files.list(model)) {
          for (Path method : methods.sorted().toList()) {
            String id = model.getFileName().toString();
            String name = method.getFileName().toString();
            cases.add(Arguments.of(id, "model.onnx", name, ExecutionDevice.Kernels.PLAIN));
            cases.add(Arguments.of(id, "model_ts.onnx", name, ExecutionDevice.Kernels.PLAIN));
            // train_fused.onnx through the kernel library's CPU kernels
            cases.add(Arguments.of(id, "model.onnx", name, ExecutionDevice.Kernels.FUSED));
          }
        }
      }
    }
    return cases.stream();
  }

  /** Every family, with attention's probabilities kept and recomputed. */
  static Stream<Arguments> bf16Cases() {
    return Stream.of(
            "tiny-roberta-cls", "tiny-bert-cls", "tiny-gpt2-lm", "tiny-clip", "tiny-qwen2vl")
        .flatMap(id -> Stream.of(Arguments.of(id, false), Arguments.of(id, true)));
  }

  /** Every family's plain export by both exporters: id/file under onnx-models. */
  static Stream<String> plainExports() {
    return Stream.of(
            "tiny-roberta-cls", "tiny-bert-cls", "tiny-gpt2-lm", "tiny-clip", "tiny-qwen2vl")
        .flatMap(id -> Stream.of(id + "/model.onnx", id + "/model_ts.onnx"));
  }

  @ParameterizedTest(name = "{0}/{1} {2} {3}")
  @MethodSource("goldenCases")
  void goldenTracesHoldThroughPrepare(
      String id, String file, String method, ExecutionDevice.Kernels kernels) throws IOException {
    assumeTrue(
        kernels == ExecutionDevice.Kernels.PLAIN || FusedKernels.bundled(),
        "no fused-kernel library in this build (no /usr/bin/cc)");
    Manifest m = prepared(id, file);
    GoldenTrace g = GoldenTrace.read(GoldenTraceTest.GOLDEN.resolve(id + "/" + method));
    ConformanceReport r =
        ConformanceRun.run(m, g, Golden.config(g), ExecutionDevice.CPU.withKernels(kernels), 1);
    assertThat(r.conforms()).as(r.render()).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("plainExports")
  void fixtureLossAndGradientsMatchTorch(String model) throws IOException {
    String id = model.substring(0, model.indexOf('/'));
    Manifest m = prepared(id, model.substring(id.length() + 1));
    copyTree(Path.of("../onnx-models", id, "fixture"), m.dir().resolve("fixture"));
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, ExecutionDevice.CPU, 1);
    // every broadcast of the backward is reduced over axes known when the graph is built: no
    // NonZero (a reduction decided at run time costs a device-to-host copy per step on the GPU);
    // no GatherND or ScatterND, whose CUDA kernels cannot be replayed in a CUDA graph
    for (String graph : List.of("train.onnx", "train_fused.onnx")) {
      Graph g = OnnxModels.read(m.dir().resolve(graph)).graph();
      assertThat(g.nodes()).extracting(Node::op).doesNotContain("NonZero", "GatherND", "ScatterND");
      // and no device kernel reads a host-computed value (a copy node: no capture either)
      assertThat(CudaRewrites.hostReads(g)).as(graph).isEmpty();
      // no weight read both as stored and transposed (ONNX Runtime would hold both copies)
      Map<String, List<Node>> readers = g.consumers();
      if (graph.equals("train_fused.onnx")) {
        // SiLU and QuickGELU (CLIP, Qwen2-VL) take the library's SwishGrad: no sigmoid is kept
        // for the backward, only the forward's product reads it
        for (Node n : g.nodes()) {
          if (n.op().equals("Sigmoid")) {
            assertThat(readers.get(n.out(0))).as(graph + ": readers of " + n.out(0)).hasSize(1);
          }
        }
        // Qwen2's five RMSNorms (two per layer, the final one; the vision tower is trained too,
        // so layer 0's first norm is on the gradient path) take the library's RmsNormGrad, in
        // either exporter's form
        if (id.equals("tiny-qwen2vl")) {
          assertThat(g.nodes().stream().filter(n -> n.op().equals(FusedKernels.RMS_NORM_GRAD)))
              .hasSize(5);
        }
      }
      for (Node n : g.nodes()) {
        if (n.op().equals("Transpose") && g.initializers().containsKey(n.in(0))) {
          assertThat(readers.get(n.in(0))).as(graph + ": readers of " + n.in(0)).hasSize(1);
        }
      }
    }
    // loss, every LoRA gradient (and the heads'), every infer output
    assertThat(rows)
        .hasSizeGreaterThanOrEqualTo(2 + 2 * m.lora().modules().size())
        .allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
    // the same through train_fused.onnx and the kernel library's CPU kernels
    if (FusedKernels.bundled()) {
      ExecutionDevice fused = ExecutionDevice.CPU.withKernels(ExecutionDevice.Kernels.FUSED);
      assertThat(FixtureCheck.run(m, fused, 1))
          .hasSameSizeAs(rows)
          .allSatisfy(r -> assertThat(r.ok()).as("train_fused: " + r).isTrue());
    }
  }

  /**
   * ONNX Runtime runs a backward node that reads only forward values (a transposed key, the GELU
   * derivative) in the backward, next to the gradient node that reads it, not in the forward, where
   * its output would stay alive across the rest of the forward: in ONNX Runtime's own execution
   * order (its profile of one step, on the graph it optimized), no float output of a node outside
   * the forward waits for its first reader while a forward node runs. Shape arithmetic (int64) may
   * run in the forward.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("plainExports")
  void backwardNodesOfForwardValuesRunInTheBackward(
      String model, @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    String id = model.substring(0, model.indexOf('/'));
    Manifest m = prepared(id, model.substring(id.length() + 1));
    copyTree(Path.of("../onnx-models", id, "fixture"), m.dir().resolve("fixture"));
    Fixture fx = Fixture.read(m.dir());
    for (String graph : List.of("train.onnx", "train_fused.onnx")) {
      boolean fused = graph.equals("train_fused.onnx");
      if (fused && !FusedKernels.bundled()) {
        continue;
      }
      Path prefix = Files.createDirectories(dir.resolve(graph)).resolve("profile");
      List<String> outs = new ArrayList<>(List.of(TensorNames.LOSS));
      fx.expected().keySet().stream().filter(k -> k.startsWith("grad.")).forEach(outs::add);
      try (GraphSession s =
          GraphSession.open(m.dir().resolve(graph), ExecutionDevice.CPU, 1, prefix, fused)) {
        s.run(fx.trainFeeds(), outs);
      }
      List<String> waits = OrtProfile.forwardWaits(prefix.getParent(), graph);
      assertThat(waits).as(id + " " + graph).isEmpty();
    }
  }

  /**
   * With {@code --recompute-attention} every attention softmax is recomputed in its layer's
   * backward: the loss and every gradient still match PyTorch's (train and train_fused graphs); no
   * node but the forward's product with V reads a forward softmax's probabilities; and in ONNX
   * Runtime's own order (its profile of one step) each recomputed softmax's output is last read
   * before the next one is computed, so the backward holds one layer's probabilities at a time
   * instead of every layer's from the forward.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("plainExports")
  void recomputedAttentionMatchesTorchAndHoldsOneLayerAtATime(
      String model, @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    String id = model.substring(0, model.indexOf('/'));
    Manifest m = prepared(id, model.substring(id.length() + 1), true);
    copyTree(Path.of("../onnx-models", id, "fixture"), m.dir().resolve("fixture"));
    assertThat(FixtureCheck.run(m, ExecutionDevice.CPU, 1))
        .allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
    Fixture fx = Fixture.read(m.dir());
    List<String> outs = new ArrayList<>(List.of(TensorNames.LOSS));
    fx.expected().keySet().stream().filter(k -> k.startsWith("grad.")).forEach(outs::add);
    // the tiny models' attention layers: two per tower (CLIP: text and vision; Qwen2-VL: its
    // vision blocks and its decoder layers)
    int attention = Map.of("tiny-clip", 4, "tiny-qwen2vl", 4).getOrDefault(id, 2);
    for (String graph : List.of("train.onnx", "train_fused.onnx")) {
      boolean fused = graph.equals("train_fused.onnx");
      if (fused && !FusedKernels.bundled()) {
        continue;
      }
      if (fused) {
        assertThat(
                FixtureCheck.run(
                    m, ExecutionDevice.CPU.withKernels(ExecutionDevice.Kernels.FUSED), 1))
            .allSatisfy(r -> assertThat(r.ok()).as("train_fused: " + r).isTrue());
      }
      Graph g = OnnxModels.read(m.dir().resolve(graph)).graph();
      Map<String, List<Node>> readers = g.consumers();
      List<Node> copies =
          g.nodes().stream()
              .filter(n -> n.op().equals("Softmax") && n.name().contains("/recomputed"))
              .toList();
      assertThat(copies).as(graph).hasSize(attention);
      // the copies' shapes are on the device too: the step still replays as a CUDA graph
      assertThat(CudaRewrites.hostReads(g)).as(graph).isEmpty();
      for (Node copy : copies) {
        String original = copy.name().substring(0, copy.name().indexOf("/recomputed"));
        Node forward =
            g.nodes().stream().filter(n -> n.name().equals(original)).findFirst().orElseThrow();
        assertThat(readers.get(forward.out(0)))
            .as(graph + ": readers of " + forward.out(0))
            .hasSize(1);
      }
      Path prefix = Files.createDirectories(dir.resolve(graph)).resolve("profile");
      try (GraphSession s =
          GraphSession.open(m.dir().resolve(graph), ExecutionDevice.CPU, 1, prefix, fused)) {
        s.run(fx.trainFeeds(), outs);
      }
      assertThat(
              OrtProfile.overlappingOutputs(
                  prefix.getParent(),
                  graph,
                  n -> n.getOpType().equals("Softmax") && n.getName().contains("/recomputed")))
          .as(id + " " + graph)
          .isEmpty();
    }
    JsonObject manifest =
        JsonParser.parseString(Files.readString(m.dir().resolve(Manifest.FILE))).getAsJsonObject();
    assertThat(manifest.getAsJsonObject("prepare").get("recompute_attention").getAsString())
        .startsWith(attention + " attention softmaxes");
  }

  /**
   * train_bf16 and train_fused_bf16 against train.onnx on the fixture's batch. The CPU EP has no
   * bfloat16 MatMul, so each product of the bf16 graphs is run as the CUDA EP runs it, emulated:
   * its bfloat16 operands widened, multiplied in float32, the result rounded to bfloat16 (cuBLAS
   * accumulates bf16 products in float32 too); so is each elementwise step on bfloat16. Every cast,
   * the data movement on bfloat16 values, the kernel library's bfloat16 ops (its CPU kernels) and
   * the float32 rest run as written, so a product fed the wrong operand, or not lowered (a type
   * error at load), fails here. The loss and gradients must stay within bf16's rounding of
   * float32's, and must differ from them (else the graph computed nothing in bf16).
   */
  @ParameterizedTest(name = "{0} recompute-attention {1}")
  @MethodSource("bf16Cases")
  void bf16GraphsStayWithinBf16RoundingOfFp32(String id, boolean recomputeAttention)
      throws IOException {
    Manifest m = prepared(id, "model.onnx", recomputeAttention);
    Fixture fx = Fixture.read(Path.of("../onnx-models", id));
    List<String> outs = new ArrayList<>();
    outs.add(TensorNames.LOSS);
    fx.expected().keySet().stream().filter(k -> k.startsWith("grad.")).forEach(outs::add);
    Map<String, Tensor> fp32;
    try (GraphSession s =
        GraphSession.open(m.dir().resolve("train.onnx"), ExecutionDevice.CPU, 1)) {
      fp32 = s.run(fx.trainFeeds(), outs);
    }
    // the fused graph's attention softmaxes (every one, in these models) run in bfloat16 on the
    // kernel library; the plain bf16 graph keeps ai.onnx's float32 Softmax and needs no library
    assertThat(nodes(m, "train_fused_bf16", FusedKernels.DOMAIN, FusedKernels.SOFTMAX))
        .isPositive()
        .isEqualTo(nodes(m, "train_fused", "", "Softmax"));
    // so do SiLU and QuickGELU (tiny CLIP, tiny Qwen2-VL), one Swish op each; Qwen2's five
    // RMSNorms write bfloat16 for their products
    assertThat(nodes(m, "train_fused_bf16", FusedKernels.DOMAIN, FusedKernels.SWISH))
        .isEqualTo(nodes(m, "train_fused", "", "Sigmoid"));
    assertThat(nodes(m, "train_fused_bf16", FusedKernels.DOMAIN, FusedKernels.RMS_NORM))
        .isEqualTo(id.equals("tiny-qwen2vl") ? 5 : 0);
    assertThat(nodes(m, "train_bf16", FusedKernels.DOMAIN, null)).isZero();
    List<String> graphs = new ArrayList<>(List.of("train_bf16"));
    if (FusedKernels.bundled()) {
      graphs.add("train_fused_bf16");
    }
    for (String graph : graphs) {
      Path emulated = emulateBf16Products(m.dir().resolve(graph + ".onnx"));
      Map<String, Tensor> bf16;
      try (GraphSession s =
          GraphSession.open(emulated, ExecutionDevice.CPU, 1, null, graph.contains("fused"))) {
        bf16 = s.run(fx.trainFeeds(), outs);
      }
      double worst = 0;
      String worstName = "";
      for (String o : outs) {
        double rel = relToMax(bf16.get(o).floats(), fp32.get(o).floats());
        if (rel > worst) {
          worst = rel;
          worstName = o;
        }
        // bf16 keeps 8 significant bits (0.4% per rounding, a few per layer); the measured worst:
        // loss 4.7e-3 (tiny CLIP: a logit scale of 100 on rounded embeddings), gradients 7.0e-2
        // (tiny RoBERTa's classifier bias, a sum over the batch that cancels)
        assertThat(rel).as(graph + " " + o).isLessThan(o.equals(TensorNames.LOSS) ? 1e-2 : 1e-1);
      }
      System.out.printf(
          Locale.ROOT,
          "%s %s%s vs float32: worst %.3g (%s)%n",
          id,
          graph,
          recomputeAttention ? " (attention recomputed)" : "",
          worst,
          worstName);
      assertThat(worst).as(graph + ": no output differs from float32's").isGreaterThan(1e-5);
    }
  }

  /**
   * Writes, beside a bf16 graph, a copy whose MatMul, Gemm and elementwise nodes on bfloat16 read
   * float32 widened from their bfloat16 operands and round their float32 result to bfloat16.
   */
  private static Path emulateBf16Products(Path graph) throws IOException {
    Onnx.ModelProto.Builder model =
        Onnx.ModelProto.parseFrom(Files.readAllBytes(graph)).toBuilder();
    Onnx.GraphProto.Builder g = model.getGraphBuilder();
    List<Onnx.NodeProto> nodes = new ArrayList<>();
    Set<String> widened = new HashSet<>();
    Set<String> bf16 = new HashSet<>(); // the values the graph computes in bfloat16
    int products = 0;
    for (Onnx.NodeProto n : g.getNodeList()) {
      String op = n.getOpType();
      boolean product = op.equals("MatMul") || op.equals("Gemm");
      // by index: getInputList's protobuf type would be a dependency of this module's own
      boolean readsBf16 =
          java.util.stream.IntStream.range(0, n.getInputCount())
              .anyMatch(i -> bf16.contains(n.getInput(i)));
      boolean lowStep =
          List.of("Add", "Sub", "Mul", "Div", "Where", "Sum").contains(op) && readsBf16;
      if (!product && !lowStep) {
        boolean move =
            List.of("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Split")
                .contains(op);
        // the kernel library's ops run as written, on its CPU kernels: those that read bfloat16
        // write it (softmax, the activations, their gradients, the LM loss's gradient) but for
        // the LM loss and the norms' gradients (float32); its norms write bfloat16 from float32
        // (their first output; the LayerNorm's statistics are float32)
        boolean library = n.getDomain().equals(FusedKernels.DOMAIN);
        boolean writesFloat =
            List.of(
                    FusedKernels.SOFTMAX_CROSS_ENTROPY,
                    FusedKernels.LAYER_NORM_GRAD,
                    FusedKernels.RMS_NORM_GRAD)
                .contains(op);
        if (library && (op.equals(FusedKernels.LAYER_NORM) || op.equals(FusedKernels.RMS_NORM))) {
          bf16.add(n.getOutput(0));
        } else if (op.equals("Cast") && n.getAttribute(0).getI() == 16
            || move && bf16.contains(n.getInput(0))
            || op.equals("Concat") && bf16.contains(n.getInput(0))
            || library && readsBf16 && !writesFloat) {
          for (int k = 0; k < n.getOutputCount(); k++) {
            bf16.add(n.getOutput(k));
          }
        }
        nodes.add(n);
        continue;
      }
      Onnx.NodeProto.Builder wide = n.toBuilder().clearInput().clearOutput();
      for (int i = 0; i < n.getInputCount(); i++) {
        String in = n.getInput(i);
        if (!bf16.contains(in)) { // Where's condition
          wide.addInput(in);
          continue;
        }
        String f = in + "/widened";
        if (widened.add(in)) {
          nodes.add(cast(in, f, Onnx.TensorProto.DataType.FLOAT_VALUE));
        }
        wide.addInput(f);
      }
      wide.addOutput(n.getOutput(0) + "/float32");
      nodes.add(wide.build());
      nodes.add(cast(n.getOutput(0) + "/float32", n.getOutput(0), 16)); // bfloat16
      bf16.add(n.getOutput(0));
      products += product ? 1 : 0;
    }
    assertThat(products).as(graph + ": matrix products").isPositive();
    g.clearNode().addAllNode(nodes);
    Path out =
        graph.resolveSibling(graph.getFileName().toString().replace(".onnx", "_emulated.onnx"));
    Files.write(out, model.build().toByteArray());
    return out;
  }

  /** How many nodes of a graph have this domain and op type (any, if null). */
  private static long nodes(Manifest m, String graph, String domain, String op) throws IOException {
    return Onnx.ModelProto.parseFrom(Files.readAllBytes(m.dir().resolve(graph + ".onnx")))
        .getGraph()
        .getNodeList()
        .stream()
        .filter(n -> n.getDomain().equals(domain) && (op == null || n.getOpType().equals(op)))
        .count();
  }

  private static Onnx.NodeProto cast(String from, String to, int type) {
    return Onnx.NodeProto.newBuilder()
        .setOpType("Cast")
        .setName(to + "/cast")
        .addInput(from)
        .addOutput(to)
        .addAttribute(
            Onnx.AttributeProto.newBuilder()
                .setName("to")
                .setType(Onnx.AttributeProto.AttributeType.INT)
                .setI(type))
        .build();
  }

  private static double relToMax(float[] got, float[] want) {
    double maxAbs = 0;
    double refMax = 0;
    for (int i = 0; i < got.length; i++) {
      assertThat(Float.isFinite(got[i])).isTrue();
      maxAbs = Math.max(maxAbs, Math.abs((double) got[i] - want[i]));
      refMax = Math.max(refMax, Math.abs(want[i]));
    }
    return maxAbs / (refMax + 1e-30);
  }

  @Test
  void theChecksWithoutPyTorchCatchAWrongGradient() throws IOException {
    Manifest m = prepared("tiny-roberta-cls", "model.onnx");
    Path fx = Path.of("../onnx-models/tiny-roberta-cls/fixture");
    copyTree(fx, m.dir().resolve("fixture"));
    String dir = m.dir().toString();
    assertThat(Main.run("check", "--model", dir, "--finite-differences", "--threads", "1"))
        .isZero();
    assertThat(
            Main.run(
                "check",
                "--model",
                dir,
                "--against",
                "../onnx-models/tiny-roberta-cls",
                "--threads",
                "1"))
        .isZero();
    // the same graphs with two same-shaped gradients swapped: both checks must fail
    Path broken = Scratch.dir("broken").resolve("tiny-roberta-cls");
    copyTree(m.dir(), broken);
    Path train = broken.resolve("train.onnx");
    Onnx.ModelProto.Builder model =
        Onnx.ModelProto.parseFrom(Files.readAllBytes(train)).toBuilder();
    String q = "grad.roberta.encoder.layer.0.attention.self.query.lora_A.weight";
    String v = "grad.roberta.encoder.layer.0.attention.self.value.lora_A.weight";
    for (Onnx.NodeProto.Builder n : model.getGraphBuilder().getNodeBuilderList()) {
      for (int i = 0; i < n.getOutputCount(); i++) {
        if (n.getOutput(i).equals(q)) {
          n.setOutput(i, v);
        } else if (n.getOutput(i).equals(v)) {
          n.setOutput(i, q);
        }
      }
    }
    Files.write(train, model.build().toByteArray());
    String b = broken.toString();
    assertThat(Main.run("check", "--model", b, "--finite-differences", "--threads", "1")).isOne();
    assertThat(Main.run("check", "--model", b, "--against", dir, "--threads", "1")).isOne();
  }

  @Test
  void anExportThatTakesPositionIdsTrainsAsOneThatComputesThem(
      @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    // tiny GPT-2 as Optimum exports decoders: position_ids an input, read by the position embedding
    Path plain = Path.of("../onnx-models/tiny-gpt2-lm/plain/model.onnx");
    Onnx.ModelProto.Builder model =
        Onnx.ModelProto.parseFrom(Files.readAllBytes(plain)).toBuilder();
    int rewired = 0;
    for (Onnx.NodeProto.Builder n : model.getGraphBuilder().getNodeBuilderList()) {
      if (n.getOpType().equals("Gather") && n.getInput(0).equals("transformer.wpe.weight")) {
        n.setInput(1, PositionIds.INPUT);
        rewired++;
      }
    }
    assertThat(rewired).isOne();
    Onnx.ValueInfoProto ids = model.getGraph().getInput(0);
    assertThat(ids.getName()).isEqualTo("input_ids");
    model.getGraphBuilder().addInput(ids.toBuilder().setName(PositionIds.INPUT));
    Path optimumStyle = dir.resolve("model.onnx");
    Files.write(optimumStyle, model.build().toByteArray());
    Path out = dir.resolve("tiny-gpt2-lm");
    Prepare.run(
        PrepareConfig.defaults(optimumStyle, out, "causal-lm").toBuilder()
            .id("tiny-gpt2-lm")
            .build());
    Manifest m = Manifest.read(out);
    // the prepared graphs compute the positions from the mask: the batch is what text data gives
    assertThat(m.inputs()).extracting(Manifest.IoSpec::name).doesNotContain(PositionIds.INPUT);
    JsonObject written =
        JsonParser.parseString(Files.readString(out.resolve(Manifest.FILE))).getAsJsonObject();
    assertThat(written.getAsJsonObject("prepare").has(PositionIds.INPUT)).isTrue();
    copyTree(Path.of("../onnx-models/tiny-gpt2-lm/fixture"), out.resolve("fixture"));
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, ExecutionDevice.CPU, 1);
    assertThat(rows.stream().filter(r -> r.graph().equals("train")))
        .hasSize(1 + 2 * m.lora().modules().size())
        .allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
    // the fixture's batch is right-padded: its logits agree wherever the mask attends; a padded
    // position has position 1 here, transformers' default there
    Fixture fx = Fixture.read(out);
    Map<String, Tensor> feeds = fx.inferFeeds(m);
    float[] want = fx.expected().get(Fixture.INFER + TensorNames.LOGITS).floats();
    float[] got;
    try (GraphSession infer = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
      got = infer.run(feeds, List.of(TensorNames.LOGITS)).get(TensorNames.LOGITS).floats();
    }
    long[] mask = feeds.get("attention_mask").longs();
    int vocab = want.length / mask.length;
    double worst = 0;
    double max = 0;
    int padded = 0;
    for (int t = 0; t < mask.length; t++) {
      padded += mask[t] == 0 ? 1 : 0;
      for (int k = t * vocab; k < (t + 1) * vocab && mask[t] == 1; k++) {
        worst = Math.max(worst, Math.abs(got[k] - want[k]));
        max = Math.max(max, Math.abs(want[k]));
      }
    }
    assertThat(padded).as("padded positions in the fixture's batch").isPositive();
    assertThat(worst / max).isLessThan(1e-5);
  }

  @Test
  void anExportWithAKeyValueCacheTrainsOnWholeSequences(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    // tiny GPT-2 as Optimum exports it with past: a layer's values joined after cached ones (here
    // the first attention's, [batch, 4 heads, past length, 16]); the present output returns them
    Path plain = Path.of("../onnx-models/tiny-gpt2-lm/plain/model.onnx");
    Onnx.ModelProto.Builder model =
        Onnx.ModelProto.parseFrom(Files.readAllBytes(plain)).toBuilder();
    Onnx.GraphProto.Builder g = model.getGraphBuilder();
    joinCachedValues(g, firstPvProduct(g));
    Onnx.TypeProto type = cacheType();
    g.addInput(Onnx.ValueInfoProto.newBuilder().setName(PAST_VALUE).setType(type));
    g.addOutput(
        Onnx.ValueInfoProto.newBuilder().setName(PastKeyValues.PRESENT + "0.value").setType(type));
    g.addNode(
        Onnx.NodeProto.newBuilder()
            .setOpType("Identity")
            .addInput("joined_values")
            .addOutput(PastKeyValues.PRESENT + "0.value"));
    Path withPast = dir.resolve("model.onnx");
    Files.write(withPast, model.build().toByteArray());
    JsonObject prepared = preparedTrainsAsPyTorch(withPast, dir);
    assertThat(prepared.get("past_key_values").getAsString())
        .startsWith("1 key/value cache inputs");
  }

  @Test
  void aMergedDecoderExportTrainsThroughItsBranchWithoutACache(
      @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    // tiny GPT-2 as Optimum merges its decoders: one If on use_cache_branch, the then branch
    // joining cached values before the first attention's P V product, the else branch (no cache)
    // the plain decoder; both return the logits and the present values
    Onnx.ModelProto plainModel =
        Onnx.ModelProto.parseFrom(
            Files.readAllBytes(Path.of("../onnx-models/tiny-gpt2-lm/plain/model.onnx")));
    Onnx.GraphProto plain = plainModel.getGraph();
    int pv = firstPvProduct(plain);
    String present = PastKeyValues.PRESENT + "0.value";
    String values = plain.getNode(pv).getInput(1);
    String logits = plain.getOutput(0).getName();
    Onnx.GraphProto.Builder withCache =
        Onnx.GraphProto.newBuilder().setName("with_cache").addAllNode(plain.getNodeList());
    joinCachedValues(withCache, pv);
    withCache
        .addOutput(plain.getOutput(0))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("joined_values"));
    Onnx.GraphProto.Builder withoutCache =
        Onnx.GraphProto.newBuilder()
            .setName("without_cache")
            .addAllNode(plain.getNodeList())
            .addNode(
                Onnx.NodeProto.newBuilder()
                    .setOpType("Identity")
                    .setName("values_out")
                    .addInput(values)
                    .addOutput("values_out"))
            .addOutput(plain.getOutput(0))
            .addOutput(Onnx.ValueInfoProto.newBuilder().setName("values_out"));
    Onnx.TypeProto type = cacheType();
    Onnx.TypeProto.Builder flag = Onnx.TypeProto.newBuilder();
    flag.getTensorTypeBuilder()
        .setElemType(Onnx.TensorProto.DataType.BOOL_VALUE)
        .getShapeBuilder()
        .addDimBuilder()
        .setDimValue(1);
    Onnx.GraphProto.Builder main =
        plain.toBuilder()
            .clearNode()
            .clearOutput()
            .addInput(Onnx.ValueInfoProto.newBuilder().setName(PAST_VALUE).setType(type))
            .addInput(Onnx.ValueInfoProto.newBuilder().setName(PastKeyValues.MERGED).setType(flag))
            .addNode(
                Onnx.NodeProto.newBuilder()
                    .setOpType("If")
                    .setName("optimum::if")
                    .addInput(PastKeyValues.MERGED)
                    .addOutput(logits)
                    .addOutput(present)
                    .addAttribute(
                        Onnx.AttributeProto.newBuilder()
                            .setName("then_branch")
                            .setType(Onnx.AttributeProto.AttributeType.GRAPH)
                            .setG(withCache))
                    .addAttribute(
                        Onnx.AttributeProto.newBuilder()
                            .setName("else_branch")
                            .setType(Onnx.AttributeProto.AttributeType.GRAPH)
                            .setG(withoutCache)))
            .addOutput(plain.getOutput(0))
            .addOutput(Onnx.ValueInfoProto.newBuilder().setName(present).setType(type));
    Path mergedFile = dir.resolve("decoder_model_merged.onnx");
    Files.write(mergedFile, plainModel.toBuilder().setGraph(main).build().toByteArray());
    assertThat(preparedTrainsAsPyTorch(mergedFile, dir).has(PastKeyValues.MERGED)).isTrue();
  }

  /**
   * Prepares a tiny GPT-2 export as a causal LM: with nothing cached, the loss and every LoRA
   * gradient are PyTorch's on the whole sequence, and no cache input or branch switch remains.
   *
   * @return the manifest's prepare object
   */
  private static JsonObject preparedTrainsAsPyTorch(Path export, Path dir) throws IOException {
    Path out = dir.resolve("tiny-gpt2-lm");
    Prepare.run(
        PrepareConfig.defaults(export, out, "causal-lm").toBuilder().id("tiny-gpt2-lm").build());
    Manifest m = Manifest.read(out);
    assertThat(m.inputs())
        .extracting(Manifest.IoSpec::name)
        .noneMatch(n -> n.startsWith("past") || n.equals(PastKeyValues.MERGED));
    copyTree(Path.of("../onnx-models/tiny-gpt2-lm/fixture"), out.resolve("fixture"));
    List<FixtureCheck.Row> rows = FixtureCheck.run(m, ExecutionDevice.CPU, 1);
    assertThat(rows.stream().filter(r -> r.graph().equals("train")))
        .hasSize(1 + 2 * m.lora().modules().size())
        .allSatisfy(r -> assertThat(r.ok()).as(r.toString()).isTrue());
    return JsonParser.parseString(Files.readString(out.resolve(Manifest.FILE)))
        .getAsJsonObject()
        .getAsJsonObject("prepare");
  }

  @Test
  void materializeLeavesAPreparedDirectorysWeightsAlone() throws IOException {
    Manifest m = prepared("tiny-gpt2-lm", "model.onnx");
    byte[] before = Files.readAllBytes(m.dir().resolve("base.weights"));
    String plain = "../onnx-models/tiny-gpt2-lm/plain/model.onnx";
    assertThat(Main.run("materialize", "--model", m.dir().toString(), "--from", plain)).isOne();
    assertThat(Files.readAllBytes(m.dir().resolve("base.weights"))).isEqualTo(before);
  }

  @Test
  void aPreparedModelShipsAsOrtAdapterAndMergedModel(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    // its base weights are external data (base.weights): the merged model reads them in
    Manifest m = prepared("tiny-bert-cls", "model.onnx");
    copyTree(Path.of("../onnx-models/tiny-bert-cls/fixture"), m.dir().resolve("fixture"));
    AdapterFormatsTest.sameOutputsInEveryShippedForm(m, dir);
  }

  @Test
  void miniLmByBothRoutesGivesTheSameLossAndGradients() throws IOException {
    Manifest exporter = MiniLm.materialized();
    Path onnx = miniLmOnnx();
    Path out = Scratch.dir("prepared").resolve("minilm");
    PrepareConfig d = PrepareConfig.defaults(onnx, out, "seq-cls");
    // BertForSequenceClassification's head: [CLS] -> pooler dense + tanh -> classifier; the
    // bare encoder's modules and the head take that class's names (bert.encoder..., bert.pooler,
    // classifier), as the exporter's route names them, so that adapters load onto that class
    Prepare.run(
        d.toBuilder().id("minilm").pooling(Heads.Pooling.CLS).head(Heads.Head.DENSE_TANH).build());
    Manifest prepared = Manifest.read(out);
    assertThat(prepared.lora().modules())
        .extracting(Manifest.LoraModule::name)
        .isEqualTo(exporter.lora().modules().stream().map(Manifest.LoraModule::name).toList());
    assertThat(prepared.lora().peftTaskType()).isEqualTo("SEQ_CLS");
    // the opset-11 export's shape arithmetic leaves no host value for a device kernel to read
    assertThat(CudaRewrites.hostReads(OnnxModels.read(out.resolve("train.onnx")).graph()))
        .isEmpty();
    Map<String, Tensor> batch =
        Safetensors.read(exporter.dir().resolve("fixture/batch.safetensors")).tensors();
    Map<String, Tensor> params =
        Safetensors.read(exporter.dir().resolve("fixture/params.safetensors")).tensors();
    Map<String, Tensor> feedsExporter = new LinkedHashMap<>(batch);
    feedsExporter.putAll(params);
    List<String> outs = new ArrayList<>(List.of("loss"));
    params.keySet().stream()
        .filter(k -> !k.equals("lora_scale"))
        .forEach(k -> outs.add("grad." + k));
    Map<String, Tensor> a;
    try (GraphSession s =
        GraphSession.open(exporter.dir().resolve("train.onnx"), ExecutionDevice.CPU, 1)) {
      a = s.run(feedsExporter, outs);
    }
    Map<String, Tensor> b;
    try (GraphSession s = GraphSession.open(out.resolve("train.onnx"), ExecutionDevice.CPU, 1)) {
      b = s.run(feedsExporter, outs);
    }
    assertThat(outs).hasSize(2 + 2 * 12 + 4 - 1);
    double worst = 0;
    for (String o : outs) {
      double e = relativeError(a.get(o), b.get(o));
      assertThat(e).as(o).isLessThanOrEqualTo(1e-5);
      worst = Math.max(worst, e);
    }
    System.out.printf(
        "MiniLM, exporter vs prepare: loss %.7f vs %.7f; worst of %d outputs %.2e of max%n",
        a.get("loss").floats()[0], b.get("loss").floats()[0], outs.size(), worst);
  }

  @Test
  void aBareEncoderUnderANewLinearHeadShipsItsLoraForTheBareModel() throws IOException {
    // mean pooling + a linear layer is no transformers class: the PEFT directory says
    // FEATURE_EXTRACTION, and its keys are the bare BertModel's (checked with peft on the GPU
    // machine: scripts/check_peft_keys.py loads 24 of 26 tensors onto BertModel, all the LoRA ones;
    // as SEQ_CLS onto BertForSequenceClassification it loaded 2 of 26)
    Path out = Scratch.dir("prepared").resolve("minilm-linear");
    Prepare.run(PrepareConfig.defaults(miniLmOnnx(), out, "seq-cls"));
    Manifest m = Manifest.read(out);
    assertThat(m.lora().peftTaskType()).isEqualTo("FEATURE_EXTRACTION");
    assertThat(m.lora().modules())
        .extracting(Manifest.LoraModule::name)
        .allMatch(n -> n.startsWith("encoder.layer."));
  }

  @Test
  void anEmbeddingModelAtBZeroIsTheOriginalModel() throws IOException {
    Path onnx = miniLmOnnx();
    Path out = Scratch.dir("prepared").resolve("minilm-emb");
    Prepare.run(PrepareConfig.defaults(onnx, out, "embedding"));
    Manifest m = Manifest.read(out);
    Map<String, Tensor> batch =
        Safetensors.read(MiniLm.SOURCE.resolve("fixture/batch.safetensors")).tensors();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    m.inferInputs().forEach(i -> feeds.put(i.name(), batch.get(i.name())));
    java.util.Random rnd = new java.util.Random(7);
    for (Manifest.LoraModule mod : m.lora().modules()) {
      float[] a = new float[4 * mod.in()];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) rnd.nextGaussian();
      }
      feeds.put(mod.name() + ".lora_A.weight", Tensor.ofFloats(new long[] {4, mod.in()}, a));
      feeds.put(
          mod.name() + ".lora_B.weight",
          Tensor.ofFloats(new long[] {mod.out(), 4}, new float[4 * mod.out()]));
    }
    feeds.put("lora_scale", Tensor.scalar(4f));
    Tensor emb;
    try (GraphSession s = GraphSession.open(out.resolve("infer.onnx"), ExecutionDevice.CPU, 1)) {
      emb =
          s.run(feeds, List.of(TensorNames.SENTENCE_EMBEDDING)).get(TensorNames.SENTENCE_EMBEDDING);
    }
    Tensor hidden;
    try (GraphSession s = GraphSession.open(onnx, ExecutionDevice.CPU, 1)) {
      hidden =
          s.run(Map.copyOf(batchInputs(batch)), List.of("last_hidden_state"))
              .get("last_hidden_state");
    }
    assertThat(relativeError(emb, meanPooledNormalized(hidden, batch.get("attention_mask"))))
        .isLessThanOrEqualTo(1e-5);
  }

  @Test
  void aQuantizedExportTrainsOnItsDequantizedWeights() throws IOException {
    // langchain4j's -q jar: ONNX Runtime's dynamic quantization of the same all-MiniLM-L6-v2
    Path q = Scratch.dir("minilm-q").resolve("all-minilm-l6-v2-q.onnx");
    Files.write(q, MiniLm.resource("all-minilm-l6-v2-q.onnx"));
    Path out = Scratch.dir("prepared").resolve("minilm-q");
    Prepare.run(PrepareConfig.defaults(q, out, "embedding"));
    Manifest m = Manifest.read(out);
    assertThat(m.lora().modules()).hasSize(12); // query and value of six layers, as in float
    Graph train = OnnxModels.read(out.resolve("train.onnx")).graph();
    assertThat(train.nodes())
        .extracting(Node::op)
        .doesNotContain("MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear");
    // at B = 0 its embeddings are the quantized model's, up to the activations' quantization,
    // which the float products leave out
    Map<String, Tensor> batch =
        Safetensors.read(MiniLm.SOURCE.resolve("fixture/batch.safetensors")).tensors();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    m.inferInputs().forEach(i -> feeds.put(i.name(), batch.get(i.name())));
    for (Manifest.LoraModule mod : m.lora().modules()) {
      feeds.put(
          mod.name() + ".lora_A.weight",
          Tensor.ofFloats(new long[] {8, mod.in()}, new float[8 * mod.in()]));
      feeds.put(
          mod.name() + ".lora_B.weight",
          Tensor.ofFloats(new long[] {mod.out(), 8}, new float[8 * mod.out()]));
    }
    feeds.put("lora_scale", Tensor.scalar(2f));
    float[] emb;
    try (GraphSession s = GraphSession.open(out.resolve("infer.onnx"), ExecutionDevice.CPU, 1)) {
      emb =
          s.run(feeds, List.of(TensorNames.SENTENCE_EMBEDDING))
              .get(TensorNames.SENTENCE_EMBEDDING)
              .floats();
    }
    float[] want;
    try (GraphSession s = GraphSession.open(q, ExecutionDevice.CPU, 1)) {
      Tensor hidden =
          s.run(Map.copyOf(batchInputs(batch)), List.of("last_hidden_state"))
              .get("last_hidden_state");
      want = meanPooledNormalized(hidden, batch.get("attention_mask")).floats();
    }
    float[] fp32;
    try (GraphSession s = GraphSession.open(miniLmOnnx(), ExecutionDevice.CPU, 1)) {
      Tensor hidden =
          s.run(Map.copyOf(batchInputs(batch)), List.of("last_hidden_state"))
              .get("last_hidden_state");
      fp32 = meanPooledNormalized(hidden, batch.get("attention_mask")).floats();
    }
    double worst = worstCosine(emb, want, 384);
    double floatModel = worstCosine(fp32, want, 384);
    System.out.printf(
        Locale.ROOT,
        "all-minilm-l6-v2-q: worst cosine of the dequantized model's embeddings to the quantized"
            + " model's %.5f (the float model's to the quantized model's %.5f)%n",
        worst,
        floatModel);
    // closer to the quantized model than the float model is: it carries the int8 weights
    assertThat(worst).isGreaterThan(Math.max(0.98, floatModel));
    // and a classifier on it trains: its gradients are those of its loss
    Path cls = out.resolveSibling("minilm-q-cls");
    Prepare.run(PrepareConfig.defaults(q, cls, "seq-cls"));
    copyTree(MiniLm.SOURCE.resolve("fixture"), cls.resolve("fixture"));
    assertThat(
            Main.run("check", "--model", cls.toString(), "--finite-differences", "--threads", "1"))
        .isZero();
  }

  /** The smallest cosine between rows of two sets of L2-normalized vectors. */
  private static double worstCosine(float[] x, float[] y, int dim) {
    double worst = 1;
    for (int row = 0; row < x.length / dim; row++) {
      double dot = 0;
      for (int k = row * dim; k < (row + 1) * dim; k++) {
        dot += x[k] * y[k];
      }
      worst = Math.min(worst, dot);
    }
    return worst;
  }

  private static Map<String, Tensor> batchInputs(Map<String, Tensor> batch) {
    Map<String, Tensor> b = new LinkedHashMap<>(batch);
    b.remove("labels");
    return b;
  }

  /** sentence-transformers' pooling, in double: the mean of kept tokens, L2-normalized. */
  private static Tensor meanPooledNormalized(Tensor hidden, Tensor mask) {
    long[] s = hidden.shape();
    int n = (int) s[0];
    int t = (int) s[1];
    int h = (int) s[2];
    float[] x = hidden.floats();
    long[] m = mask.longs();
    float[] out = new float[n * h];
    for (int i = 0; i < n; i++) {
      double[] sum = new double[h];
      double count = 0;
      for (int j = 0; j < t; j++) {
        if (m[i * t + j] != 0) {
          count++;
          for (int k = 0; k < h; k++) {
            sum[k] += x[(i * t + j) * h + k];
          }
        }
      }
      double norm = 0;
      for (int k = 0; k < h; k++) {
        sum[k] /= count;
        norm += sum[k] * sum[k];
      }
      for (int k = 0; k < h; k++) {
        out[i * h + k] = (float) (sum[k] / Math.sqrt(norm));
      }
    }
    return Tensor.ofFloats(new long[] {n, h}, out);
  }

  /** Exporter names (BertForSequenceClassification) to prepare's (the embedding model's). */
  static Path miniLmOnnx() throws IOException {
    Path f = Scratch.dir("minilm-onnx").resolve("all-minilm-l6-v2.onnx");
    Files.write(f, MiniLm.resource("all-minilm-l6-v2.onnx"));
    return f;
  }

  static double relativeError(Tensor got, Tensor want) {
    float[] x = got.floats();
    float[] y = want.floats();
    assertThat(x).hasSameSizeAs(y);
    double max = 0;
    double ref = 0;
    for (int i = 0; i < x.length; i++) {
      max = Math.max(max, Math.abs((double) x[i] - y[i]));
      ref = Math.max(ref, Math.abs(y[i]));
    }
    return max / (ref + 1e-30);
  }

  /**
   * Tiny GPT-2's cached values of its first attention, as Optimum's with-past export names them.
   */
  private static final String PAST_VALUE = PastKeyValues.PAST + "0.value";

  /** The index of the first attention's P V product: a MatMul of a Softmax's output. */
  private static int firstPvProduct(Onnx.GraphProtoOrBuilder g) {
    Map<String, String> producerOp = new HashMap<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      for (int o = 0; o < g.getNode(i).getOutputCount(); o++) {
        producerOp.put(g.getNode(i).getOutput(o), g.getNode(i).getOpType());
      }
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      if (g.getNode(i).getOpType().equals("MatMul")
          && "Softmax".equals(producerOp.get(g.getNode(i).getInput(0)))) {
        return i;
      }
    }
    throw new AssertionError("no attention P V product");
  }

  /** Makes node pv read "joined_values": the cached values (PAST_VALUE) joined before its own. */
  private static void joinCachedValues(Onnx.GraphProto.Builder g, int pv) {
    String values = g.getNode(pv).getInput(1);
    g.getNodeBuilder(pv).setInput(1, "joined_values");
    g.addNode(
        pv,
        Onnx.NodeProto.newBuilder()
            .setOpType("Concat")
            .setName("join_cached_values")
            .addInput(PAST_VALUE)
            .addInput(values)
            .addOutput("joined_values")
            .addAttribute(
                Onnx.AttributeProto.newBuilder()
                    .setName("axis")
                    .setType(Onnx.AttributeProto.AttributeType.INT)
                    .setI(2)));
  }

  /** Tiny GPT-2's cache layout: [batch, 4 heads, past length, 16]. */
  private static Onnx.TypeProto cacheType() {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    shape.addDimBuilder().setDimParam("batch_size");
    shape.addDimBuilder().setDimValue(4);
    shape.addDimBuilder().setDimParam("past_sequence_length");
    shape.addDimBuilder().setDimValue(16);
    Onnx.TypeProto.Builder type = Onnx.TypeProto.newBuilder();
    type.getTensorTypeBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(shape);
    return type.build();
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else if (!Files.exists(t)) {
          Files.copy(p, t);
        }
      }
    }
  }
}
