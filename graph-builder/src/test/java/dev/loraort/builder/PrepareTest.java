package dev.loraort.builder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.GraphProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ModelProto;
import dev.loraort.artifacts.onnx.proto.Onnx.NodeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Float16;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.builder.ir.WeightsFile;
import dev.loraort.builder.lora.Targets;
import dev.loraort.builder.shape.ValueType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** prepare on small models: what it writes, and the errors bad input gets before any training. */
class PrepareTest {
  @TempDir Path tmp;

  private Path toy(int opset, BiFunction<Emitter, String, String> activation) {
    Path f = tmp.resolve("toy.onnx");
    ToyEncoder.write(f, "toy.onnx.data", opset, activation);
    return f;
  }

  private PrepareConfig config(Path onnx, String task, Targets targets) {
    PrepareConfig d = PrepareConfig.defaults(onnx, tmp.resolve("out"), task);
    return d.toBuilder().numLabels(3).targets(targets).rankAlpha(4, 8).build();
  }

  @Test
  void writesADirectoryTheTrainerReads() throws IOException {
    Path onnx = toy(11, (e, x) -> e.op("Tanh", x));
    Prepare.Result r = Prepare.run(config(onnx, "seq-cls", Targets.parse("query", null)));
    Manifest m = Manifest.read(r.dir());
    assertThat(m.task()).isEqualTo("seq-cls");
    assertThat(r.hostReads()).isEmpty(); // the CUDA EP can replay its step (mean pooling's count)
    assertThat(m.lora().modules())
        .singleElement()
        .satisfies(
            mod -> {
              // named through its bias: the weight is an anonymous transposed copy
              assertThat(mod.name()).isEqualTo("enc.query");
              assertThat(mod.baseWeight()).isEqualTo("onnx::MatMul_1");
              assertThat(mod.baseLayout()).isEqualTo("in_out");
            });
    assertThat(m.trainable())
        .extracting(Manifest.TrainableSpec::name)
        .containsExactly("classifier.weight", "classifier.bias");
    assertThat(m.inputs())
        .extracting(Manifest.IoSpec::name)
        .containsExactly("input_ids", "attention_mask", "labels");
    assertThat(m.inputs().get(0).shape())
        .extracting(Manifest.Dim::toString)
        .containsExactly("batch", "seq");
    assertThat(m.inferOutputs()).extracting(Manifest.IoSpec::name).containsExactly("logits");
    for (String f :
        List.of(
            "train.onnx",
            "infer.onnx",
            "train_rwp.onnx",
            "base.weights",
            "trainable_init.safetensors")) {
      assertThat(r.dir().resolve(f)).isRegularFile();
    }
    // the embedding table (2 KiB) is stored once, for all three graphs
    assertThat(Files.size(r.dir().resolve("base.weights"))).isLessThan(3 * 4096);
    // every node named, once: ONNX Runtime's profiles name nodes by it
    for (String f :
        List.of(
            "train.onnx",
            "infer.onnx",
            "train_rwp.onnx",
            "train_fused.onnx",
            "train_bf16.onnx",
            "train_fused_bf16.onnx")) {
      List<String> names =
          ModelProto.parseFrom(Files.readAllBytes(r.dir().resolve(f)))
              .getGraph()
              .getNodeList()
              .stream()
              .map(NodeProto::getName)
              .toList();
      assertThat(names).as(f).doesNotContain("").doesNotHaveDuplicates();
    }
  }

  @Test
  void aBlockwise4BitExportTrainsOnItsDequantizedWeights() throws IOException {
    // the toy encoder with its two linear layers as ONNX Runtime's MatMulNBits (4 bits, blocks of
    // 16, zero point 8), as a q4 export stores them
    Graph g = OnnxModels.read(toy(17, (e, x) -> e.op("Tanh", x))).graph();
    for (Node mm : List.copyOf(g.nodes())) {
      if (!mm.op().equals("MatMul") || !g.initializers().containsKey(mm.in(1))) {
        continue;
      }
      double[] w = Tensors.doubles(g.initializers().get(mm.in(1))); // [K 8, N 8]
      byte[] q = new byte[8 * 8]; // [N, 1 block, 8 bytes]: 16 nibbles, the last 8 padding
      float[] scales = new float[8];
      for (int n = 0; n < 8; n++) {
        double max = 0;
        for (int k = 0; k < 8; k++) {
          max = Math.max(max, Math.abs(w[k * 8 + n]));
        }
        scales[n] = (float) (max / 7);
        for (int k = 0; k < 8; k++) {
          int v = (int) Math.max(0, Math.min(15, Math.round(w[k * 8 + n] / scales[n]) + 8));
          q[n * 8 + k / 2] |= (byte) (v << (4 * (k % 2)));
        }
      }
      String b = mm.in(1) + "_Q4";
      g.addInitializer(
          b,
          TensorProto.newBuilder()
              .setName(b)
              .setDataType(DataType.UINT8_VALUE)
              .addAllDims(List.of(8L, 1L, 8L))
              .setRawData(ByteString.copyFrom(q))
              .build());
      g.addInitializer(b + "_scales", Tensors.floats(b + "_scales", new long[] {8}, scales));
      g.nodes()
          .set(
              g.nodes().indexOf(mm),
              new Node(
                  "MatMulNBits",
                  "com.microsoft",
                  mm.rawName(),
                  List.of(mm.in(0), b, b + "_scales"),
                  mm.outputs(),
                  Map.of(
                      "K", Attr.i("K", 8),
                      "N", Attr.i("N", 8),
                      "bits", Attr.i("bits", 4),
                      "block_size", Attr.i("block_size", 16))));
    }
    g.removeDeadNodes();
    Path q4 = tmp.resolve("toy_q4.onnx");
    try (WeightsFile w = new WeightsFile(tmp.resolve("toy_q4.onnx.data"))) {
      OnnxModels.write(g, q4, w, Map.of(), "test");
    }
    Prepare.Result r = Prepare.run(config(q4, "seq-cls", Targets.parse("query,value", null)));
    Manifest m = Manifest.read(r.dir());
    assertThat(m.lora().modules())
        .extracting(Manifest.LoraModule::name)
        .containsExactly("enc.query", "enc.value");
    Graph train = OnnxModels.read(r.dir().resolve("train.onnx")).graph();
    assertThat(train.nodes()).extracting(Node::op).doesNotContain("MatMulNBits");
    assertThat(Files.readString(r.dir().resolve("manifest.json")))
        .contains("\"dequantized\": \"2 quantized products");
  }

  @Test
  void aFloat16ExportTrainsOnItsWeightsWidened() throws IOException {
    // the toy encoder as a float16 export stores it: every weight float16, the output float16
    Graph g = OnnxModels.read(toy(17, (e, x) -> e.op("Tanh", x))).graph();
    Map<String, short[]> halves = new java.util.HashMap<>();
    for (String name : List.copyOf(g.initializers().keySet())) {
      double[] w = Tensors.doubles(g.initializers().get(name));
      ByteBuffer raw = ByteBuffer.allocate(2 * w.length).order(ByteOrder.LITTLE_ENDIAN);
      short[] h = new short[w.length];
      for (int i = 0; i < w.length; i++) {
        h[i] = toHalf((float) w[i]);
        raw.putShort(h[i]);
      }
      halves.put(name, h);
      g.addInitializer(
          name,
          g.initializers().get(name).toBuilder()
              .setDataType(DataType.FLOAT16_VALUE)
              .setRawData(ByteString.copyFrom(raw.array()))
              .build());
    }
    g.outputs()
        .set(0, new ValueType(DataType.FLOAT16_VALUE, null).toValueInfo("last_hidden_state"));
    Path half = tmp.resolve("toy_fp16.onnx");
    try (WeightsFile w = new WeightsFile(tmp.resolve("toy_fp16.onnx.data"))) {
      OnnxModels.write(g, half, w, Map.of(), "test");
    }
    Prepare.Result r = Prepare.run(config(half, "seq-cls", Targets.parse("query,value", null)));
    assertThat(Manifest.read(r.dir()).lora().modules()).hasSize(2);
    // five weights and the output were float16
    assertThat(Files.readString(r.dir().resolve("manifest.json")))
        .contains("\"float16\": \"6 float16 weights");
    Graph train = OnnxModels.read(r.dir().resolve("train.onnx")).graph();
    for (Map.Entry<String, short[]> e : halves.entrySet()) {
      if (!train.initializers().containsKey(e.getKey())) {
        continue; // a table read before the trained layers may be pruned into its own form
      }
      assertThat(train.initializers().get(e.getKey()).getDataType())
          .isEqualTo(DataType.FLOAT_VALUE);
      double[] widened = Tensors.doubles(train.initializers().get(e.getKey()));
      for (int i = 0; i < widened.length; i++) {
        assertThat(widened[i])
            .as("%s[%d]", e.getKey(), i)
            .isEqualTo(Float16.toFloat(e.getValue()[i]));
      }
    }
    assertThat(train.initializers()).containsKeys("onnx::MatMul_1", "onnx::MatMul_2");
  }

  /**
   * float to binary16, rounded to nearest (the toy's weights are normal half values or flush to 0).
   */
  private static short toHalf(float f) {
    int b = Float.floatToIntBits(f);
    int sign = (b >>> 16) & 0x8000;
    int exponent = ((b >>> 23) & 0xff) - 127 + 15;
    int mantissa = b & 0x7fffff;
    if (exponent <= 0) {
      return (short) sign;
    }
    int h = sign | (exponent << 10) | (mantissa >> 13);
    int rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) {
      h++;
    }
    return (short) h;
  }

  @Test
  void theDefaultTargetsArePeftsForTheArchitecture() {
    assertThat(Targets.peftDefault(List.of("bert.encoder.layer.0.attention.self.query")))
        .isEqualTo(Targets.parse("query,value", null));
    assertThat(Targets.peftDefault(List.of("transformer.h.0.attn.c_attn")))
        .isEqualTo(Targets.parse("c_attn", null));
    assertThat(Targets.peftDefault(List.of("a.dense"))).isNull();
  }

  @Test
  void targetsFollowPeftsMatchingRules() {
    Targets gpt2 = Targets.parse("attn.c_attn,attn.c_proj", null);
    assertThat(gpt2.matches("transformer.h.0.attn.c_attn", false)).isTrue();
    assertThat(gpt2.matches("transformer.h.0.attn.c_proj", false)).isTrue();
    assertThat(gpt2.matches("transformer.h.0.mlp.c_proj", false)).isFalse();
    assertThat(gpt2.matches("transformer.h.0.xattn.c_attn", false)).isFalse();
    Targets re = Targets.regex(".*layer\\.[01]\\..*query", null);
    assertThat(re.matches("encoder.layer.1.attention.self.query", false)).isTrue();
    assertThat(re.matches("encoder.layer.2.attention.self.query", false)).isFalse();
    Targets all = Targets.parse("all-linear", "key");
    assertThat(all.matches("enc.query", false)).isTrue();
    assertThat(all.matches("enc.key", false)).isFalse();
    assertThat(all.matches("lm_head", true)).isFalse();
  }

  @Test
  void modulesSavedInFullGetNoLoraAndNeedNamedWeights() throws IOException {
    Path onnx = toy(14, (e, x) -> e.op("Tanh", x));
    // the toy keeps its weights as anonymous transposed copies, as TorchScript exports do
    PrepareConfig anonymous =
        config(onnx, "embedding", Targets.parse("all-linear", null)).toBuilder()
            .modulesToSave(List.of("enc.value"))
            .build();
    assertThatThrownBy(() -> Prepare.run(anonymous))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("enc.value, whose weight this export keeps as an anonymous")
        .hasMessageContaining("onnx::MatMul_2");
    PrepareConfig biasOnly =
        config(onnx, "embedding", Targets.parse("all-linear", null)).toBuilder()
            .modulesToSave(List.of("embeddings"))
            .build();
    Manifest m = Manifest.read(Prepare.run(biasOnly).dir());
    assertThat(m.lora().modules())
        .extracting(Manifest.LoraModule::name)
        .containsExactly("enc.query", "enc.value");
    assertThat(m.trainable())
        .extracting(Manifest.TrainableSpec::name)
        .containsExactly("embeddings.word_embeddings.weight");
  }

  @Test
  void targetsThatMatchNothingListTheCandidates() {
    Path onnx = toy(14, (e, x) -> e.op("Tanh", x));
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", Targets.parse("c_attn", null))))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("c_attn match none")
        .hasMessageContaining("[enc.query, enc.value]");
  }

  @Test
  void anOpsetOlderThan11IsRefusedWithTheFix() {
    Path onnx = toy(10, (e, x) -> e.op("Tanh", x));
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", null)))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("toy.onnx: ai.onnx opset 10")
        .hasMessageContaining("opset_version >= 11");
  }

  @Test
  void anOpWithoutARuleOnThePathIsNamedBeforeAnythingIsWritten() {
    Path onnx = toy(14, (e, x) -> e.op("Hardmax", x));
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", Targets.parse("query", null))))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("(Hardmax) is on the gradient path")
        .hasMessageContaining("from enc.query.lora_A.weight");
    assertThat(tmp.resolve("out")).doesNotExist();
  }

  @Test
  void anOpOnlyBeforeTheAdaptedLayersNeedsNoRule() throws IOException {
    // Hardmax sits between the layers: adapting only the second keeps it off the gradient path
    Path onnx = toy(14, (e, x) -> e.op("Hardmax", x));
    Prepare.Result r = Prepare.run(config(onnx, "seq-cls", Targets.parse("value", null)));
    assertThat(Manifest.read(r.dir()).lora().modules()).hasSize(1);
  }

  @Test
  void controlFlowOnThePathIsRefused() {
    Path onnx =
        toy(
            14,
            (e, x) -> {
              String cond = e.op("ReduceMin", List.of(e.op("Greater", x, e.scalar(-100, 1))));
              GraphProto then = branch("Identity", x, "then_out");
              GraphProto other = branch("Neg", x, "else_out");
              return e.op(
                  "If",
                  List.of(cond),
                  AttributeProto.newBuilder()
                      .setName("then_branch")
                      .setType(AttributeProto.AttributeType.GRAPH)
                      .setG(then)
                      .build(),
                  AttributeProto.newBuilder()
                      .setName("else_branch")
                      .setType(AttributeProto.AttributeType.GRAPH)
                      .setG(other)
                      .build());
            });
    assertThatThrownBy(() -> Prepare.run(config(onnx, "embedding", Targets.parse("query", null))))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("(If) is control flow on the gradient path");
  }

  private static GraphProto branch(String op, String x, String out) {
    return GraphProto.newBuilder()
        .setName(out)
        .addNode(NodeProto.newBuilder().setOpType(op).addInput(x).addOutput(out))
        .addOutput(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo(out))
        .build();
  }

  @Test
  void opsOutsideAiOnnxAreNamedWithHowToExportWithoutThem() {
    Path onnx =
        toy(
            14,
            (e, x) -> {
              String y = e.graph().fresh("gelu");
              e.graph()
                  .add(
                      new Node(
                          "FastGelu", "com.microsoft", "fused", List.of(x), List.of(y), Map.of()));
              return y;
            });
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", null)))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("com.microsoft.FastGelu")
        .hasMessageContaining("before ONNX Runtime's transformer optimizer fused it");
  }

  @Test
  void truncatedExternalDataIsCaughtAtRead() throws IOException {
    Path onnx = toy(14, (e, x) -> e.op("Tanh", x));
    Path data = tmp.resolve("toy.onnx.data");
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 100);
    }
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", null)))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("initializer embeddings.word_embeddings.weight")
        .hasMessageContaining("runs past the end")
        .hasMessageContaining("truncated?");
  }

  @Test
  void anExistingDirectoryIsReplacedOnlyWhenAsked() throws IOException {
    Path onnx = toy(14, (e, x) -> e.op("Tanh", x));
    Files.createDirectories(tmp.resolve("out"));
    Files.writeString(tmp.resolve("out/keep.txt"), "mine");
    assertThatThrownBy(() -> Prepare.run(config(onnx, "seq-cls", null)))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("--overwrite");
    assertThat(tmp.resolve("out/keep.txt")).hasContent("mine");
  }
}
