package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fused kernels' rules, run through the kernel library on ONNX Runtime's CPU EP: the same
 * gradients as the plain rules, finite differences, and which cases they take.
 */
class FusedRulesTest {
  private static final int F = DataType.FLOAT_VALUE;

  @BeforeAll
  static void libraryBuilt() {
    // a clone built without a C compiler has no library; everything else still works
    assumeTrue(FusedKernels.bundled(), "no fused-kernel library in this build (no /usr/bin/cc)");
  }

  /** x -> GELU -> LayerNormalization (scale and bias computed, not trained) -> 2 * . -> Softmax. */
  private static String block(Emitter e, String approximate, long softmaxAxis) {
    String h = e.op("Gelu", List.of("x"), Attr.s("approximate", approximate));
    String idx =
        e.op("Cast", List.of(e.op("Range", e.int64(0), e.int64(16), e.int64(1))), Attr.i("to", F));
    String scale = e.add(e.mul(idx, e.scalar(0.05, F)), e.scalar(0.6, F));
    String ln =
        e.op(
            "LayerNormalization",
            List.of(h, scale, e.mul(scale, e.scalar(0.1, F))),
            Attr.i("axis", -1),
            Attr.f("epsilon", 1e-5f));
    return e.op("Softmax", List.of(e.mul(ln, e.scalar(2, F))), Attr.i("axis", softmaxAxis));
  }

  private static GradCheck input() {
    return GradCheck.create().opset(20).float32().inRange("x", -3, 3, 3, 5, 16);
  }

  @ParameterizedTest
  @ValueSource(strings = {"none", "tanh"})
  void fusedGradientsEqualThePlainOnes(String approximate) throws Exception {
    assertThat(input().fusedVsPlain(e -> block(e, approximate, -1))).isLessThan(1e-6);
  }

  @ParameterizedTest
  @ValueSource(strings = {"none", "tanh"})
  void fusedGradientsMatchFiniteDifferences(String approximate) throws Exception {
    assertThat(input().fused().check(e -> block(e, approximate, -1))).isLessThan(3e-3);
  }

  @Test
  void aWrongKernelWouldBeSeen() throws Exception {
    assertThat(input().fused().scaleGradients(1.01).check(e -> block(e, "none", -1)))
        .isGreaterThan(5e-3);
  }

  @Test
  void eachFusedOpReplacesItsDecompositionWhereItFits() {
    assertThat(fusedOps(-1))
        .containsExactlyInAnyOrder(
            FusedKernels.GELU_GRAD, FusedKernels.LAYER_NORM_GRAD, FusedKernels.SOFTMAX_GRAD);
    // a softmax over another axis than the last keeps its plain rule
    assertThat(fusedOps(1))
        .containsExactlyInAnyOrder(FusedKernels.GELU_GRAD, FusedKernels.LAYER_NORM_GRAD);
  }

  /**
   * x -> QuickGELU (x sigmoid(1.702 x), CLIP's) -> SiLU (h sigmoid(h)), as exporters write them.
   */
  private static String swishes(Emitter e) {
    String h = e.mul("x", e.op("Sigmoid", e.mul("x", e.scalar(1.702, F))));
    return e.mul(e.op("Sigmoid", h), h);
  }

  @Test
  void siluAndQuickGeluTakeOneKernelEach() throws Exception {
    assertThat(input().fusedVsPlain(FusedRulesTest::swishes)).isLessThan(1e-6);
    assertThat(input().fused().check(FusedRulesTest::swishes)).isLessThan(3e-3);
    Graph g = graph();
    String loss = loss(g, swishes(new Emitter(g, "f")));
    Backward.build(g, Shapes.infer(g), loss, List.of("x"), Set.of(), true);
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .extracting(n -> n.op() + " " + n.f("alpha", 1))
        .containsExactlyInAnyOrder("SwishGrad 1.702", "SwishGrad 1.0");
    // the sigmoids' own gradients (s (1 - s)) are never built
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("Sub");
  }

  /**
   * x -> RMSNorm as dynamo writes it (Mul by Reciprocal), times a weight -> as TorchScript writes
   * it (Mul by Div(1, .)) -> as a Div by the root.
   */
  private static String rmsNorms(Emitter e) {
    String y = e.mul(e.op("Reciprocal", root(e, "x")), "x");
    String scaled = e.mul(y, e.scalar(1.5, F));
    String z = e.mul(scaled, e.div(e.scalar(1, F), root(e, scaled)));
    return e.div(z, root(e, z));
  }

  private static String root(Emitter e, String x) {
    String mean =
        e.op(
            "ReduceMean",
            List.of(e.op("Pow", x, e.scalar(2, F)), e.ints(-1)),
            Attr.i("keepdims", 1));
    return e.op("Sqrt", e.add(mean, e.scalar(1e-6, F)));
  }

  @Test
  void rmsNormTakesOneKernelInEachExportersForm() throws Exception {
    assertThat(input().fusedVsPlain(FusedRulesTest::rmsNorms)).isLessThan(1e-6);
    assertThat(input().fused().check(FusedRulesTest::rmsNorms)).isLessThan(3e-3);
    Graph g = graph();
    String loss = loss(g, rmsNorms(new Emitter(g, "f")));
    Backward.build(g, Shapes.infer(g), loss, List.of("x"), Set.of(), true);
    assertThat(g.nodes().stream().filter(n -> n.domain().equals(FusedKernels.DOMAIN)))
        .extracting(Node::op)
        .containsExactly(
            FusedKernels.RMS_NORM_GRAD, FusedKernels.RMS_NORM_GRAD, FusedKernels.RMS_NORM_GRAD);
    // the roots' own gradients (through Sqrt, ReduceMean, Pow) are never built (the gradient's
    // seed, a Pow of the loss, aside)
    assertThat(g.nodes().subList(g.nodes().indexOf(g.producers().get(loss)), g.nodes().size()))
        .filteredOn(n -> !n.inputs().contains(loss))
        .extracting(Node::op)
        .doesNotContain("Sqrt", "ReduceMean", "Pow");
  }

  private static Graph graph() {
    List<Dim> d = List.of(Dim.of(3), Dim.of(5), Dim.of(16));
    return new Graph(
        "fused", 20, List.of(), Map.of(), List.of(new ValueType(F, d).toValueInfo("x")), List.of());
  }

  private static String loss(Graph g, String y) {
    Emitter e = new Emitter(g, "loss");
    return e.op("ReduceSum", List.of(e.mul(y, y)), Attr.i("keepdims", 0));
  }

  private static Set<String> fusedOps(long softmaxAxis) {
    List<Dim> d = List.of(Dim.of(3), Dim.of(5), Dim.of(16));
    Graph g =
        new Graph(
            "fused",
            20,
            List.of(),
            Map.of(),
            List.of(new ValueType(F, d).toValueInfo("x")),
            List.of());
    Emitter e = new Emitter(g, "f");
    String y = block(e, "none", softmaxAxis);
    String loss = e.op("ReduceSum", List.of(e.mul(y, y)), Attr.i("keepdims", 0));
    Backward.build(g, Shapes.infer(g), loss, List.of("x"), Set.of(), true);
    return g.nodes().stream()
        .filter(n -> n.domain().equals(FusedKernels.DOMAIN))
        .map(Node::op)
        .collect(Collectors.toSet());
  }
}
