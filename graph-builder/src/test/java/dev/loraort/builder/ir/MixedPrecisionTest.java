package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Where the bf16 pass puts its casts, on an attention block: products read bfloat16, the rest
 * float32, each value cast once, no round trip between products. (Numbers: PrepareConformanceTest
 * runs every family's bf16 graphs.)
 */
class MixedPrecisionTest {
  private static final int BF16 = DataType.BFLOAT16_VALUE;
  private static final int FLOAT = DataType.FLOAT_VALUE;

  @Test
  void productsReadBf16AndEverythingElseStaysFloat() {
    Graph g = attention();
    assertThat(MixedPrecision.bf16(g)).isEqualTo(5); // q, k, scores, context, output
    Shapes s = Shapes.infer(g);
    Map<String, Node> producer = g.producers();
    for (Node n : g.nodes()) {
      boolean product = n.op().equals("MatMul") || n.op().equals("Gemm");
      for (String in : n.inputs()) {
        if (product) {
          assertThat(s.elemType(in)).as(n + " reads " + in).isEqualTo(BF16);
        } else if (!n.op().equals("Cast") && s.elemType(in) != DataType.INT64_VALUE) {
          // any other op computes in the type it reads: no mixing
          assertThat(s.elemType(in)).as(n + " reads " + in).isEqualTo(s.elemType(n.out(0)));
        }
      }
      // no float -> bf16 cast of a value that was bf16 a moment ago
      if (n.op().equals("Cast") && n.i("to", 0) == BF16) {
        Node p = producer.get(n.in(0));
        assertThat(p == null || !p.op().equals("Cast")).as(n.toString()).isTrue();
      }
    }
    // x is read by two products and cast once; the weights are cast in the graph (folded at load)
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast") && n.in(0).equals("x")))
        .hasSize(1);
    // between the products only data movement, on bfloat16: the float copies became dead code
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Transpose")))
        .allSatisfy(t -> assertThat(s.elemType(t.out(0))).isEqualTo(BF16));
    assertThat(g.outputs()).extracting(v -> ValueType.of(v).elemType()).containsOnly(FLOAT);
    assertThat(s.elemType("y")).isEqualTo(FLOAT);
    // q's bias is added in bfloat16 (only products read the sum); the scale before the softmax is
    // not
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Add")))
        .singleElement()
        .satisfies(a -> assertThat(s.elemType(a.out(0))).isEqualTo(BF16));
    assertThat(
            g.nodes().stream().filter(n -> n.op().equals("Mul") && n.in(0).startsWith("t/MatMul")))
        .singleElement()
        .satisfies(m -> assertThat(s.elemType(m.out(0))).isEqualTo(FLOAT));
  }

  @Test
  void integerProductsAreLeftAlone() {
    Graph g = graph(DataType.INT64_VALUE);
    Emitter e = new Emitter(g, "t");
    g.addInitializer("w", Tensors.int64s("w", new long[] {4, 4}, new long[16]));
    output(g, e.op("MatMul", "x", "w"));
    assertThat(MixedPrecision.bf16(g)).isZero();
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("Cast");
  }

  /** One head of self-attention over x [2, 3, 4] with a biased output projection. */
  private static Graph attention() {
    Graph g = graph(FLOAT);
    for (String w : List.of("wq", "wk", "wv", "wo")) {
      g.addInitializer(w, Tensors.floats(w, new long[] {4, 4}, new float[16]));
    }
    g.addInitializer("bo", Tensors.floats("bo", new long[] {4}, new float[4]));
    g.addInitializer("bq", Tensors.floats("bq", new long[] {4}, new float[4]));
    Emitter e = new Emitter(g, "t");
    String q = e.reshape(e.add(e.op("MatMul", "x", "wq"), "bq"), e.ints(2, 3, 1, 4));
    String k = e.reshape(e.op("MatMul", "x", "wk"), e.ints(2, 3, 1, 4));
    String v = e.op("Mul", "x", e.scalar(0.5, FLOAT)); // a float op before a product
    String kt = e.transpose(k, 0, 2, 3, 1);
    String scores = e.op("MatMul", e.transpose(q, 0, 2, 1, 3), kt);
    String p = e.op("Softmax", List.of(e.mul(scores, e.scalar(0.5, FLOAT))), Attr.i("axis", -1));
    String ctx = e.op("MatMul", p, e.transpose(e.reshape(v, e.ints(2, 3, 1, 4)), 0, 2, 1, 3));
    String rows = e.reshape(e.transpose(ctx, 0, 2, 1, 3), e.ints(6, 4));
    String y = e.op("Gemm", List.of(rows, "wo", "bo"), Attr.i("transB", 1));
    output(g, y);
    return g;
  }

  private static Graph graph(int elem) {
    return new Graph(
        "t",
        18,
        List.of(),
        Map.of(),
        List.of(new ValueType(elem, List.of(Dim.of(2), Dim.of(3), Dim.of(4))).toValueInfo("x")),
        List.of());
  }

  private static void output(Graph g, String v) {
    g.add(new Node("Identity", "", "", List.of(v), List.of("y"), Map.of()));
    g.outputs().add(Shapes.infer(g).type("y").toValueInfo("y"));
  }
}
