package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The kernel library's LayerNormalization (float32 in, bfloat16 out) against ai.onnx's
 * LayerNormalization followed by a cast, and its LayerNormalizationGrad reading a bfloat16 gradient
 * against the float32 one reading the same values widened: what the bf16 graphs swap.
 */
class LayerNormBf16Test {
  private static final int ROWS = 6;
  private static final int H = 37;
  private static final int F = DataType.FLOAT_VALUE;
  private static final int BF16 = DataType.BFLOAT16_VALUE;

  @BeforeAll
  static void libraryBuilt() {
    assumeTrue(FusedKernels.bundled(), "no fused-kernel library in this build (no /usr/bin/cc)");
  }

  @Test
  void libraryLayerNormIsAiOnnxsRoundedOnce() throws Exception {
    Random rnd = new Random(3);
    Map<String, float[]> in = new HashMap<>();
    in.put("x", gaussian(rnd, ROWS * H, 2, 0.5));
    in.put("scale", gaussian(rnd, H, 1, 1));
    in.put("bias", gaussian(rnd, H, 1, 0));
    in.put("dy", gaussian(rnd, ROWS * H, 1, 0));
    Graph g = graph();
    Map<String, dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> eps =
        Map.of("epsilon", Attr.f("epsilon", 1e-5f));
    List<String> xsb = List.of("x", "scale", "bias");
    g.add(new Node("LayerNormalization", "", "ref", xsb, List.of("y", "mean", "inv"), eps));
    g.add(LibraryGraph.cast("y", "y_rounded", BF16));
    g.add(LibraryGraph.cast("y_rounded", "want_y", F));
    g.add(
        new Node(
            FusedKernels.LAYER_NORM,
            FusedKernels.DOMAIN,
            "lib",
            xsb,
            List.of("yb", "lib_mean", "lib_inv"),
            eps));
    g.add(LibraryGraph.cast("yb", "got_y", F));
    // the gradient from a bfloat16 dY, and from the same values in float32
    g.add(LibraryGraph.cast("dy", "dyb", BF16));
    g.add(LibraryGraph.cast("dyb", "dy_wide", F));
    List<String> stats = List.of("x", "scale", "lib_mean", "lib_inv");
    g.add(grad("grad_bf16", "dyb", stats, "got_dx"));
    g.add(grad("grad_float", "dy_wide", stats, "want_dx"));
    Map<String, float[]> r =
        run(
            g,
            in,
            List.of("want_y", "got_y", "mean", "lib_mean", "inv", "lib_inv", "want_dx", "got_dx"));
    int equal = 0;
    for (int i = 0; i < ROWS * H; i++) {
      float want = r.get("want_y")[i];
      float got = r.get("got_y")[i];
      assertThat((double) got)
          .as("y[" + i + "]")
          .isCloseTo(want, within(Math.abs(want) / 128 + 1e-30));
      equal += got == want ? 1 : 0;
    }
    assertThat(equal).as("elements equal to ai.onnx's rounded").isGreaterThan(ROWS * H * 9 / 10);
    for (int k = 0; k < ROWS; k++) {
      assertThat(r.get("lib_mean")[k]).isCloseTo(r.get("mean")[k], within(1e-6f));
      assertThat(r.get("lib_inv")[k]).isCloseTo(r.get("inv")[k], within(1e-5f * r.get("inv")[k]));
    }
    assertThat(r.get("got_dx")).containsExactly(r.get("want_dx"));
  }

  private static Node grad(String name, String dy, List<String> rest, String out) {
    List<String> in = new ArrayList<>(List.of(dy));
    in.addAll(rest);
    return new Node(
        FusedKernels.LAYER_NORM_GRAD, FusedKernels.DOMAIN, name, in, List.of(out), Map.of());
  }

  private static float[] gaussian(Random rnd, int n, double sd, double mean) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (mean + rnd.nextGaussian() * sd);
    }
    return v;
  }

  private static Graph graph() {
    List<Dim> rows = List.of(Dim.of(ROWS), Dim.of(H));
    List<Dim> h = List.of(Dim.of(H));
    return new Graph(
        "layer-norm",
        20,
        List.of(),
        Map.of(),
        List.of(
            new ValueType(F, rows).toValueInfo("x"),
            new ValueType(F, h).toValueInfo("scale"),
            new ValueType(F, h).toValueInfo("bias"),
            new ValueType(F, rows).toValueInfo("dy")),
        List.of());
  }

  private static Map<String, float[]> run(Graph g, Map<String, float[]> in, List<String> outs)
      throws Exception {
    ValueType any = new ValueType(F, null);
    outs.forEach(o -> g.outputs().add(any.toValueInfo(o)));
    Map<String, LibraryGraph.Feed> feeds = new HashMap<>();
    for (var e : in.entrySet()) {
      long[] shape = e.getValue().length == H ? new long[] {H} : new long[] {ROWS, H};
      feeds.put(e.getKey(), new LibraryGraph.Feed(e.getValue(), shape));
    }
    return LibraryGraph.run(LibraryGraph.write(g), feeds, outs, false);
  }
}
