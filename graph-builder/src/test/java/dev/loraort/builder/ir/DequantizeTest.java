package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ONNX Runtime's dynamically quantized product, as quantize_dynamic writes it, made float. */
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

  /** An empty graph with one input {@code name} of [batch, 3]. */
  private static Graph graph(int type, String name) {
    List<Dim> dims = List.of(Dim.sym("b"), Dim.of(3));
    return new Graph(
        "q",
        13,
        List.of(),
        Map.of(),
        List.of(new ValueType(type, dims).toValueInfo(name)),
        List.of());
  }

  private static Node node(String op, List<String> in, List<String> out) {
    return new Node(op, "", out.get(0) + "/" + op, in, out, Map.of());
  }

  private static Map<String, dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> attrs(
      String key, int value) {
    return Map.of(key, Attr.i(key, value));
  }

  private static TensorProto int8(String name, long[] dims, byte[] v) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DataType.INT8_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    return t.setRawData(ByteString.copyFrom(v)).build();
  }
}
