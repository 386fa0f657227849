package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.autodiff.Backward;
import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    assertThat(MixedPrecision.bf16(g, false)).isEqualTo(5); // q, k, scores, context, output
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
  void withTheKernelLibraryAttentionIsNeverCast() {
    Graph g = attentionWithGradient(true);
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // the softmax and its gradient read and write bfloat16, on the library's kernels
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Softmax")))
        .singleElement()
        .satisfies(n -> assertThat(n.domain()).isEqualTo(FusedKernels.DOMAIN));
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .hasSize(2)
        .allSatisfy(
            n -> {
              assertThat(n.inputs()).allSatisfy(v -> assertThat(s.elemType(v)).isEqualTo(BF16));
              assertThat(s.elemType(n.out(0))).isEqualTo(BF16);
            });
    // no cast of a value the attention matrix's size [2, 1, 3, 3], and no kernel of its own for
    // the scale and the mask: the softmax reads the product and the mask [2, 1, 1, 3] (cast once)
    // and scales by 0.5, its gradient scales by 0.5 too
    List<Dim> attention = List.of(Dim.of(2), Dim.of(1), Dim.of(3), Dim.of(3));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast")))
        .allSatisfy(
            c -> assertThat(s.type(c.in(0)).dims()).as(c.toString()).isNotEqualTo(attention));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast") && n.in(0).equals(MASK)))
        .hasSize(1);
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Mul") || n.op().equals("Add")))
        .noneMatch(n -> attention.equals(s.type(n.out(0)).dims()));
    Map<String, Node> producer = g.producers();
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .allSatisfy(n -> assertThat(n.f("scale", 1)).isEqualTo(0.5f))
        .filteredOn(n -> n.op().equals(FusedKernels.SOFTMAX))
        .singleElement()
        .satisfies(
            n -> {
              assertThat(producer.get(n.in(0)).op()).isEqualTo("MatMul");
              assertThat(producer.get(n.in(1)).in(0)).isEqualTo(MASK);
            });
  }

  @Test
  void withoutTheKernelLibraryTheSoftmaxStaysFloat() {
    Graph g = attentionWithGradient(true);
    MixedPrecision.bf16(g, false);
    Shapes s = Shapes.infer(g);
    assertThat(g.nodes().stream().filter(n -> n.op().startsWith("Softmax")))
        .hasSize(2)
        .allSatisfy(n -> assertThat(s.elemType(n.out(0))).isEqualTo(FLOAT));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Softmax")))
        .singleElement()
        .satisfies(n -> assertThat(n.domain()).isEmpty());
  }

  @Test
  void withTheKernelLibraryTheMlpsGeluRunsInBf16() {
    Graph g = mlpWithGradient();
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // GELU and its gradient read and write bfloat16 on the library's kernels; the hidden layer
    // [2, 3, 8] is never cast, forward or backward
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .extracting(Node::op)
        .containsExactlyInAnyOrder(FusedKernels.GELU, FusedKernels.GELU_TANH_GRAD);
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .allSatisfy(
            n -> {
              assertThat(n.inputs()).allSatisfy(v -> assertThat(s.elemType(v)).isEqualTo(BF16));
              assertThat(s.elemType(n.out(0))).isEqualTo(BF16);
            })
        .filteredOn(n -> n.op().equals(FusedKernels.GELU))
        .singleElement()
        .satisfies(n -> assertThat(n.s("approximate", "none")).isEqualTo("tanh"));
    List<Dim> hidden = List.of(Dim.of(2), Dim.of(3), Dim.of(8));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast")))
        .allSatisfy(c -> assertThat(s.type(c.in(0)).dims()).as(c.toString()).isNotEqualTo(hidden));
    // without the library GELU stays float32, as ai.onnx's
    Graph plain = mlpWithGradient();
    MixedPrecision.bf16(plain, false);
    Shapes ps = Shapes.infer(plain);
    assertThat(plain.nodes().stream().filter(n -> n.op().equals("Gelu")))
        .singleElement()
        .satisfies(
            n -> {
              assertThat(n.domain()).isEmpty();
              assertThat(ps.elemType(n.out(0))).isEqualTo(FLOAT);
            });
  }

  @Test
  void withTheKernelLibraryTheLmLossReadsTheBf16Logits() {
    // x [2, 3, 4] -> logits over 11 tokens -> the library's next-token loss, its gradient by x
    Graph g = graph(FLOAT);
    g.inputs()
        .add(
            new ValueType(DataType.INT64_VALUE, List.of(Dim.of(2), Dim.of(3)))
                .toValueInfo("labels"));
    g.addInitializer("w", Tensors.floats("w", new long[] {4, 11}, new float[44]));
    String logits = new Emitter(g, "t").op("MatMul", "x", "w");
    String loss = Heads.nextTokenCrossEntropy(g, logits, "labels", true);
    Map<String, String> grads =
        Backward.build(g, Shapes.infer(g), loss, List.of("x"), Set.of(), true);
    g.outputs().add(Shapes.infer(g).type(loss).toValueInfo(loss));
    g.outputs().add(Shapes.infer(g).type(grads.get("x")).toValueInfo(grads.get("x")));
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // the loss and its gradient read the product's bfloat16 logits; the gradient writes bfloat16
    // for the product behind it, the loss float32 per row; the logits are never cast
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .extracting(Node::op)
        .containsExactly(
            FusedKernels.SOFTMAX_CROSS_ENTROPY, FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD);
    for (Node n : g.nodes()) {
      if (n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY)) {
        assertThat(s.elemType(n.in(0))).isEqualTo(BF16);
        assertThat(s.elemType(n.out(0))).isEqualTo(FLOAT);
      }
      if (n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD)) {
        assertThat(s.elemType(n.in(1))).isEqualTo(BF16);
        assertThat(s.elemType(n.out(0))).isEqualTo(BF16);
      }
    }
    List<Dim> vocab = List.of(Dim.of(2), Dim.of(3), Dim.of(11));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast")))
        .allSatisfy(c -> assertThat(s.type(c.in(0)).dims()).as(c.toString()).isNotEqualTo(vocab));
  }

  @Test
  void withTheKernelLibrarySwiGluRunsInBf16() {
    // x [2, 3, 4] -> SiLU(x w1) * (x w3) -> w2, as Qwen2's MLP; its fused gradient by x
    Graph g = graph(FLOAT);
    for (String w : List.of("w1", "w3")) {
      g.addInitializer(w, Tensors.floats(w, new long[] {4, 8}, new float[32]));
    }
    g.addInitializer("w2", Tensors.floats("w2", new long[] {8, 4}, new float[32]));
    Emitter e = new Emitter(g, "t");
    String gate = e.op("MatMul", "x", "w1");
    String silu = e.mul(gate, e.op("Sigmoid", gate));
    output(g, e.op("MatMul", e.mul(silu, e.op("MatMul", "x", "w3")), "w2"));
    withGradient(g, true);
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // one Swish op and its gradient, on bfloat16; the sigmoid is gone; nothing of the hidden
    // size [2, 3, 8] is cast, forward or backward: the gate's product with up runs in bfloat16
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .extracting(Node::op)
        .containsExactlyInAnyOrder(FusedKernels.SWISH, FusedKernels.SWISH_GRAD)
        .hasSize(2);
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .allSatisfy(n -> assertThat(s.elemType(n.out(0))).isEqualTo(BF16));
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("Sigmoid");
    List<Dim> hidden = List.of(Dim.of(2), Dim.of(3), Dim.of(8));
    assertThat(g.nodes().stream().filter(n -> n.op().equals("Cast")))
        .allSatisfy(c -> assertThat(s.type(c.in(0)).dims()).as(c.toString()).isNotEqualTo(hidden));
  }

  @Test
  void withTheKernelLibraryAPreNormLayerNormWritesBf16() {
    // x [2, 3, 4] -> LayerNorm -> two products (a base layer and a LoRA-like second reader) summed,
    // as a pre-norm block's; its fused gradient by x
    Graph g = graph(FLOAT);
    g.addInitializer("gamma", Tensors.floats("gamma", new long[] {4}, new float[] {1, 1, 1, 1}));
    g.addInitializer("beta", Tensors.floats("beta", new long[] {4}, new float[4]));
    for (String w : List.of("w", "a")) {
      g.addInitializer(w, Tensors.floats(w, new long[] {4, 4}, new float[16]));
    }
    Emitter e = new Emitter(g, "t");
    String h = e.op("LayerNormalization", List.of("x", "gamma", "beta"), Attr.i("axis", -1));
    output(g, e.add(e.op("MatMul", h, "w"), e.op("MatMul", h, "a")));
    withGradient(g, true);
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // the library's LayerNorm writes bfloat16 for both products: no cast of its output; the fused
    // gradient reads the products' bfloat16 gradients, summed in bfloat16, and writes float32
    assertThat(g.nodes())
        .extracting(n -> n.domain() + ":" + n.op())
        .doesNotContain(":LayerNormalization");
    Node ln =
        g.nodes().stream()
            .filter(
                n ->
                    n.op().equals(FusedKernels.LAYER_NORM)
                        && n.domain().equals(FusedKernels.DOMAIN))
            .findFirst()
            .orElseThrow();
    assertThat(s.elemType(ln.out(0))).isEqualTo(BF16);
    assertThat(List.of(ln.out(1), ln.out(2)))
        .allSatisfy(v -> assertThat(s.elemType(v)).isEqualTo(FLOAT));
    Node grad =
        g.nodes().stream()
            .filter(n -> n.op().equals(FusedKernels.LAYER_NORM_GRAD))
            .findFirst()
            .orElseThrow();
    assertThat(s.elemType(grad.in(0))).isEqualTo(BF16);
    assertThat(s.elemType(grad.out(0))).isEqualTo(FLOAT);
    assertThat(g.producers().get(grad.in(0)).op()).isEqualTo("Sum");
    assertThat(g.consumers().get(ln.out(0))).extracting(Node::op).containsOnly("MatMul", "Shape");
    // a LayerNorm whose output is also read by a float op (a post-norm residual) keeps ai.onnx's
    Graph post = graph(FLOAT);
    post.addInitializer("gamma", Tensors.floats("gamma", new long[] {4}, new float[] {1, 1, 1, 1}));
    post.addInitializer("w", Tensors.floats("w", new long[] {4, 4}, new float[16]));
    Emitter pe = new Emitter(post, "t");
    String ph = pe.op("LayerNormalization", List.of("x", "gamma"), Attr.i("axis", -1));
    output(post, pe.add(pe.op("MatMul", ph, "w"), ph));
    withGradient(post, true);
    MixedPrecision.bf16(post, true);
    assertThat(post.nodes())
        .extracting(n -> n.domain() + ":" + n.op())
        .contains(":LayerNormalization");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void withTheKernelLibraryAnRmsNormWritesBf16(boolean torchScript) {
    // x [2, 3, 4] -> RMSNorm (dynamo's Reciprocal, or TorchScript's Div(1, .) and a no-op cast)
    // times its weight -> a product; its fused gradient by x
    Graph g = graph(FLOAT);
    g.addInitializer("gamma", Tensors.floats("gamma", new long[] {4}, new float[] {1, 2, 3, 4}));
    g.addInitializer("w", Tensors.floats("w", new long[] {4, 4}, new float[16]));
    Emitter e = new Emitter(g, "t");
    String mean =
        e.op(
            "ReduceMean",
            List.of(e.op("Pow", "x", e.scalar(2, FLOAT)), e.ints(-1)),
            Attr.i("keepdims", 1));
    String root = e.op("Sqrt", e.add(mean, e.scalar(1e-6, FLOAT)));
    String inv = torchScript ? e.div(e.scalar(1, FLOAT), root) : e.op("Reciprocal", root);
    String normed = e.mul("x", inv);
    if (torchScript) {
      normed = e.op("Cast", List.of(normed), Attr.i("to", FLOAT));
    }
    output(g, e.op("MatMul", e.mul("gamma", normed), "w"));
    withGradient(g, true);
    MixedPrecision.bf16(g, true);
    Shapes s = Shapes.infer(g);
    // one library RMSNorm writes the product's bfloat16 operand (the root's chain is gone); its
    // gradient reads the product's bfloat16 gradient times the weight, a bfloat16 step
    Node rms =
        g.nodes().stream()
            .filter(n -> n.op().equals(FusedKernels.RMS_NORM))
            .findFirst()
            .orElseThrow();
    assertThat(rms.inputs()).containsExactly("x", "gamma");
    assertThat(s.elemType(rms.out(0))).isEqualTo(BF16);
    // (the one Pow left is the gradient's seed, which reads the loss)
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("Sqrt", "ReduceMean");
    assertThat(g.nodes()).filteredOn(n -> n.op().equals("Pow")).hasSize(1);
    Node grad =
        g.nodes().stream()
            .filter(n -> n.op().equals(FusedKernels.RMS_NORM_GRAD))
            .findFirst()
            .orElseThrow();
    assertThat(s.elemType(grad.in(0))).isEqualTo(BF16);
    assertThat(s.elemType(grad.out(0))).isEqualTo(FLOAT);
  }

  /** x [2, 3, 4] -> linear to 8 -> tanh GELU -> linear to 4, and its fused gradient by x. */
  private static Graph mlpWithGradient() {
    Graph g = graph(FLOAT);
    g.addInitializer("w1", Tensors.floats("w1", new long[] {4, 8}, new float[32]));
    g.addInitializer("b1", Tensors.floats("b1", new long[] {8}, new float[8]));
    g.addInitializer("w2", Tensors.floats("w2", new long[] {8, 4}, new float[32]));
    Emitter e = new Emitter(g, "t");
    String h =
        e.op(
            "Gelu", List.of(e.add(e.op("MatMul", "x", "w1"), "b1")), Attr.s("approximate", "tanh"));
    output(g, e.op("MatMul", h, "w2"));
    return withGradient(g, true);
  }

  @Test
  void integerProductsAreLeftAlone() {
    Graph g = graph(DataType.INT64_VALUE);
    Emitter e = new Emitter(g, "t");
    g.addInitializer("w", Tensors.int64s("w", new long[] {4, 4}, new long[16]));
    output(g, e.op("MatMul", "x", "w"));
    assertThat(MixedPrecision.bf16(g, false)).isZero();
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("Cast");
  }

  /**
   * {@link #attention} with an attention mask and the fused backward (SoftmaxGrad) of sum(y * y) by
   * x.
   */
  private static Graph attentionWithGradient(boolean fused) {
    return withGradient(attention(true), fused);
  }

  /** The graph's loss sum(y * y) and its gradient by x (fused rules or not) as its outputs. */
  private static Graph withGradient(Graph g, boolean fused) {
    Emitter e = new Emitter(g, "loss");
    String loss = e.op("ReduceSum", List.of(e.mul("y", "y")), Attr.i("keepdims", 0));
    Map<String, String> grads =
        Backward.build(g, Shapes.infer(g), loss, List.of("x"), Set.of(), fused);
    g.outputs().clear();
    g.outputs().add(Shapes.infer(g).type(loss).toValueInfo(loss));
    g.outputs().add(Shapes.infer(g).type(grads.get("x")).toValueInfo(grads.get("x")));
    return g;
  }

  private static final String MASK = "mask";

  private static Graph attention() {
    return attention(false);
  }

  /**
   * One head of self-attention over x [2, 3, 4] with a biased output projection; with a mask, an
   * additive one [2, 1, 1, 3] computed from the input m.
   */
  private static Graph attention(boolean masked) {
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
    String logits = e.mul(scores, e.scalar(0.5, FLOAT));
    if (masked) {
      g.inputs()
          .add(
              new ValueType(FLOAT, List.of(Dim.of(2), Dim.of(1), Dim.of(1), Dim.of(3)))
                  .toValueInfo("m"));
      g.add(
          new Node(
              "Mul",
              "",
              "mask",
              List.of(e.sub(e.scalar(1, FLOAT), "m"), e.scalar(-10000, FLOAT)),
              List.of(MASK),
              Map.of()));
      logits = e.add(logits, MASK);
    }
    String p = e.op("Softmax", List.of(logits), Attr.i("axis", -1));
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
