package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quantized exports' forms (quantize_dynamic's products, QDQ weights and round trips) made float.
 */
class DequantizeTest {
  private static final byte[] W = {-128, -1, 0, 1, 2, 3, 4, 5, 6, 7, 100, 127};
  private static final byte[] ZERO = {0, 1, -2, 3};
  private static final float[] SCALE = {0.5f, 0.25f, 2f, 0.125f};

  @Test
  void aPerColumnInt8ProductBecomesAFloatMatMulOfTheDequantizedWeight() {
    Graph g = graph(DataType.FLOAT_VALUE, "x");
    g.addInitializer("w_quantized", int8("w_quantized", new long[] {3, 4}, W));
    g.addInitializer("w_zero_point", int8("w_zero_point", new long[] {4}, ZERO));
    g.addInitializer("w_scale", Tensors.floats("w_scale", new long[] {4}, SCALE));
    g.add(node("DynamicQuantizeLinear", List.of("x"), List.of("xq", "xs", "xzp")));
    g.add(node("MatMulInteger", List.of("xq", "w_quantized", "xzp", "w_zero_point"), List.of("i")));
    g.add(
        new Node(
            "Cast", "", "cast", List.of("i"), List.of("f"), attrs("to", DataType.FLOAT_VALUE)));
    g.add(node("Mul", List.of("xs", "w_scale"), List.of("scales")));
    g.add(node("Mul", List.of("f", "scales"), List.of("y")));
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));

    assertThat(Dequantize.apply(g)).isOne();

    assertThat(g.nodes()).hasSize(1);
    Node mm = g.nodes().get(0);
    assertThat(mm.op()).isEqualTo("MatMul");
    assertThat(mm.inputs()).containsExactly("x", "w");
    assertThat(mm.outputs()).containsExactly("y");
    double[] w = Tensors.doubles(g.initializers().get("w"));
    for (int i = 0; i < W.length; i++) {
      int c = i % 4;
      assertThat(w[i]).as("w[%d]", i).isEqualTo((W[i] - ZERO[c]) * (double) SCALE[c]);
    }
    assertThat(g.initializers()).doesNotContainKeys("w_quantized", "w_zero_point");
    assertThat(Dequantize.remaining(g)).isEmpty();
  }

  @TempDir Path dir;

  @Test
  void aStoredWeightsDequantizeLinearBecomesTheFloatWeightWithTheSameProduct() throws Exception {
    // QDQ: y = x @ DequantizeLinear(W_q, per-column scale and zero point, axis 1)
    Graph g = graph(DataType.FLOAT_VALUE, "x");
    g.addInitializer("w_quantized", int8("w_quantized", new long[] {3, 4}, W));
    g.addInitializer("w_zero_point", int8("w_zero_point", new long[] {4}, ZERO));
    g.addInitializer("w_scale", Tensors.floats("w_scale", new long[] {4}, SCALE));
    g.add(
        new Node(
            "DequantizeLinear",
            "",
            "dq",
            List.of("w_quantized", "w_scale", "w_zero_point"),
            List.of("w"),
            attrs("axis", 1)));
    g.add(node("MatMul", List.of("x", "w"), List.of("y")));
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));
    float[] x = {1.5f, -2f, 0.25f, 3f, 0.5f, -1f};
    float[] before = run(g, "qdq", x);
    assertThat(Dequantize.apply(g)).isOne();
    assertThat(g.nodes()).extracting(Node::op).containsExactly("MatMul");
    assertThat(run(g, "float", x)).containsExactly(before);
  }

  @Test
  void anActivationsQuantizeDequantizeRoundTripBecomesTheActivation() {
    Graph g = graph(DataType.FLOAT_VALUE, "x");
    g.addInitializer("s", Tensors.scalar("s", DataType.FLOAT_VALUE, 0.1));
    g.addInitializer("z", int8("z", new long[] {}, new byte[] {0}));
    g.add(node("QuantizeLinear", List.of("x", "s", "z"), List.of("xq")));
    g.add(node("DequantizeLinear", List.of("xq", "s", "z"), List.of("xd")));
    g.add(node("Relu", List.of("xd"), List.of("y")));
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));
    assertThat(Dequantize.apply(g)).isOne();
    assertThat(g.nodes()).hasSize(1);
    assertThat(g.nodes().get(0).inputs()).containsExactly("x");
  }

  @Test
  void aFormItDoesNotReadStaysAndIsNamed() {
    Graph g = graph(DataType.UINT8_VALUE, "a");
    g.addInitializer("b", int8("b", new long[] {3, 4}, W));
    // no DynamicQuantizeLinear before it: the activations come quantized from outside
    g.add(node("MatMulInteger", List.of("a", "b"), List.of("y")));
    g.outputs().add(new ValueType(DataType.INT32_VALUE, null).toValueInfo("y"));
    assertThat(Dequantize.apply(g)).isZero();
    assertThat(Dequantize.remaining(g)).containsExactly("MatMulInteger");
  }

  @Test
  void blockwiseProductsBecomeFloatMatMulsWithTheSameOutputs() throws Exception {
    // ONNX Runtime's MatMulNBits, K 20 in blocks of 16 (the last one partial), N 4: 4 bits with
    // packed zero points; 4 bits without them (2^(bits-1)) and with a bias; 8 bits (one byte per
    // weight and per zero point)
    record Case(int bits, boolean zeroPoints, boolean bias, List<String> ops) {}
    for (Case c :
        List.of(
            new Case(4, true, false, List.of("MatMul")),
            new Case(4, false, true, List.of("MatMul", "Add")),
            new Case(8, true, false, List.of("MatMul")))) {
      java.util.Random r = new java.util.Random(c.bits() + (c.bias() ? 1 : 0));
      Graph g = graphOf(20);
      List<String> in = new java.util.ArrayList<>(List.of("x", "w_Q", "w_scales"));
      byte[] q = new byte[4 * 2 * 16 * c.bits() / 8];
      r.nextBytes(q);
      g.addInitializer("w_Q", uint8("w_Q", new long[] {4, 2, 16 * c.bits() / 8}, q));
      float[] scales = new float[8];
      for (int i = 0; i < scales.length; i++) {
        scales[i] = (0.01f + 0.1f * r.nextFloat()) * 16 / (1 << c.bits());
      }
      g.addInitializer("w_scales", Tensors.floats("w_scales", new long[] {8}, scales));
      if (c.zeroPoints()) {
        byte[] zp = new byte[4 * 2 * c.bits() / 8];
        r.nextBytes(zp);
        g.addInitializer("w_zp", uint8("w_zp", new long[] {zp.length}, zp));
        in.add("w_zp");
      }
      if (c.bias()) {
        g.addInitializer(
            "bias", Tensors.floats("bias", new long[] {4}, new float[] {1, -2, 3, 0.5f}));
        while (in.size() < 5) {
          in.add(""); // no zero points, no g_idx: the bias is input 5
        }
        in.add("bias");
      }
      g.add(matMulNBits(in, c.bits()));
      g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));
      float[] x = new float[2 * 20];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) r.nextGaussian();
      }
      float[] before = run(g, "nbits", x, 20);
      assertThat(Dequantize.apply(g)).as("%s", c).isOne();
      assertThat(g.nodes()).extracting(Node::op).as("%s", c).containsExactlyElementsOf(c.ops());
      assertThat(g.initializers()).containsKey("w_Q_float").doesNotContainKey("w_Q");
      float[] after = run(g, "float", x, 20);
      float max = 0;
      for (float v : before) {
        max = Math.max(max, Math.abs(v));
      }
      for (int i = 0; i < before.length; i++) {
        assertThat(after[i]).as("%s y[%d]", c, i).isCloseTo(before[i], within(1e-5f * max));
      }
    }
  }

  @Test
  void anActOrderBlockwiseProductStaysAndIsNamed() {
    Graph g = graphOf(20);
    g.addInitializer("w_Q", uint8("w_Q", new long[] {4, 2, 8}, new byte[64]));
    g.addInitializer("w_scales", Tensors.floats("w_scales", new long[] {8}, new float[8]));
    g.addInitializer("g_idx", Tensors.floats("g_idx", new long[] {20}, new float[20]));
    g.add(matMulNBits(List.of("x", "w_Q", "w_scales", "", "g_idx"), 4));
    assertThat(Dequantize.apply(g)).isZero();
    assertThat(Dequantize.remaining(g)).containsExactly("MatMulNBits");
  }

  /** com.microsoft.MatMulNBits with K 20, N 4, blocks of 16, output y. */
  private static Node matMulNBits(List<String> in, int bits) {
    return new Node(
        "MatMulNBits",
        "com.microsoft",
        "mm",
        in,
        List.of("y"),
        Map.of(
            "K", Attr.i("K", 20),
            "N", Attr.i("N", 4),
            "bits", Attr.i("bits", bits),
            "block_size", Attr.i("block_size", 16)));
  }

  /** An empty graph with one input {@code name} of [batch, 3]. */
  private static Graph graph(int type, String name) {
    return graph(type, name, 3);
  }

  /** An empty graph with one float input x of [batch, k]. */
  private static Graph graphOf(int k) {
    return graph(DataType.FLOAT_VALUE, "x", k);
  }

  private static Graph graph(int type, String name, int k) {
    List<Dim> dims = List.of(Dim.sym("b"), Dim.of(k));
    return new Graph(
        "q",
        13,
        List.of(),
        Map.of(),
        List.of(new ValueType(type, dims).toValueInfo(name)),
        List.of());
  }

  /** Runs g on ONNX Runtime's CPU EP with x as its [2, 3] input; its [2, 4] output. */
  private float[] run(Graph g, String name, float[] x) throws Exception {
    return run(g, name, x, 3);
  }

  /** Runs g on ONNX Runtime's CPU EP with x as its [2, k] input; its [2, 4] output. */
  private float[] run(Graph g, String name, float[] x, int k) throws Exception {
    Path f = dir.resolve(name + ".onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve(name + ".bin"))) {
      OnnxModels.write(g, f, w, Map.of(), "test");
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    // the graph's own semantics: optimized, ONNX Runtime would run DequantizeLinear + MatMul as a
    // dynamically quantized product (the activations rounded to int8 too)
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
      try (OrtSession s = env.createSession(f.toString(), o);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, k});
          OrtSession.Result out = s.run(Map.of("x", in))) {
        float[][] y = (float[][]) out.get(0).getValue();
        float[] flat = new float[8];
        System.arraycopy(y[0], 0, flat, 0, 4);
        System.arraycopy(y[1], 0, flat, 4, 4);
        return flat;
      }
    }
  }

  private static Node node(String op, List<String> in, List<String> out) {
    return new Node(op, "", out.get(0) + "/" + op, in, out, Map.of());
  }

  private static Map<String, dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> attrs(
      String key, int value) {
    return Map.of(key, Attr.i(key, value));
  }

  private static TensorProto int8(String name, long[] dims, byte[] v) {
    return bytes(name, dims, v, DataType.INT8_VALUE);
  }

  private static TensorProto uint8(String name, long[] dims, byte[] v) {
    return bytes(name, dims, v, DataType.UINT8_VALUE);
  }

  private static TensorProto bytes(String name, long[] dims, byte[] v, int type) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type);
    for (long d : dims) {
      t.addDims(d);
    }
    return t.setRawData(ByteString.copyFrom(v)).build();
  }
}
