package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtException;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The kernel library's SoftmaxCrossEntropy and its gradient (CPU kernels, the reference of the CUDA
 * ones) against the same math in double: float32 and bfloat16 logits, with and without the
 * next-token shift, an ignored label (-100) among the labels.
 */
class CrossEntropyKernelsTest {
  private static final int B = 2;
  private static final int S = 5;
  private static final int V = 37; // not a multiple of a warp
  private static final long[] LABELS = {3, 36, 0, -100, 7, 12, 5, 5, 20, -100};

  @BeforeAll
  static void libraryBuilt() {
    assumeTrue(FusedKernels.bundled(), "no fused-kernel library in this build (no /usr/bin/cc)");
  }

  @ParameterizedTest(name = "bf16 {0}, shift {1}")
  @CsvSource({"false, 0", "false, 1", "true, 0", "true, 1"})
  void lossAndGradientMatchDoubleMath(boolean bf16, int shift) throws Exception {
    Random rnd = new Random(5);
    float[] x = new float[B * S * V];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * 3); // logits span a few units
    }
    float[] dloss = new float[B * S];
    for (int i = 0; i < dloss.length; i++) {
      dloss[i] = (float) rnd.nextGaussian();
    }
    float[][] got = run(x, LABELS, dloss, new long[] {B, S, V}, bf16, shift, false);
    float[] xr = bf16 ? round(x) : x; // the kernel's inputs
    int scored = 0;
    for (int r = 0; r < B * S; r++) {
      long label = shift == 0 ? LABELS[r] : (r + 1) % S == 0 ? -100 : LABELS[r + 1];
      if (label == -100) { // ignored: no loss, no gradient
        assertThat(got[0][r]).as("loss of ignored row " + r).isZero();
        for (int j = 0; j < V; j++) {
          assertThat(got[2][r * V + j]).as("gradient of ignored row " + r).isZero();
        }
        continue;
      }
      scored++;
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < V; j++) {
        max = Math.max(max, xr[r * V + j]);
      }
      double sum = 0;
      for (int j = 0; j < V; j++) {
        sum += Math.exp(xr[r * V + j] - max);
      }
      double lse = max + Math.log(sum);
      assertThat((double) got[1][r]).as("LogSumExp of row " + r).isCloseTo(lse, within(lse));
      double loss = lse - xr[r * V + (int) label];
      assertThat((double) got[0][r]).as("loss of row " + r).isCloseTo(loss, within(lse));
      for (int j = 0; j < V; j++) {
        double g = dloss[r] * (Math.exp(xr[r * V + j] - lse) - (j == label ? 1 : 0));
        float want = bf16 ? round(new float[] {(float) g})[0] : (float) g;
        // float32: float rounding of the row's math; bfloat16: one step at the result's size
        double tol = bf16 ? Math.ulp(want) * 65536 : 1e-6 * Math.abs(dloss[r]);
        assertThat((double) got[2][r * V + j])
            .as("gradient of row " + r + ", class " + j)
            .isCloseTo(want, org.assertj.core.data.Offset.offset(tol));
      }
    }
    assertThat(scored).isEqualTo(shift == 0 ? 8 : 6);
  }

  @Test
  void aLabelOutsideTheClassesIsAnErrorThatNamesIt() {
    long[] labels = LABELS.clone();
    labels[4] = V; // one past the last class
    assertThatThrownBy(
            () ->
                run(
                    new float[B * S * V],
                    labels,
                    new float[B * S],
                    new long[] {B, S, V},
                    false,
                    0,
                    false))
        .isInstanceOf(OrtException.class)
        .hasMessageContaining("SoftmaxCrossEntropy")
        .hasMessageContaining("row 4's label 37 is outside [0, 37)");
  }

  private static org.assertj.core.data.Offset<Double> within(double scale) {
    return org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(scale)));
  }

  /** Rounds to bfloat16, nearest even (as ONNX Runtime's Cast), kept as float. */
  private static float[] round(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      int u = Float.floatToIntBits(v[i]);
      u += 0x7fff + ((u >>> 16) & 1);
      out[i] = Float.intBitsToFloat(u & 0xffff0000);
    }
    return out;
  }

  /**
   * Runs the loss and its gradient on logits [b, s, v] (cast to bfloat16 first if asked) on the CPU
   * or CUDA EP: returns the loss and log-sum-exp per row, and the gradient (cast back to float32).
   */
  static float[][] run(
      float[] x, long[] labels, float[] dloss, long[] shape, boolean bf16, int shift, boolean cuda)
      throws Exception {
    int f = DataType.FLOAT_VALUE;
    long b = shape[0];
    long s = shape[1];
    long v = shape[2];
    Graph g =
        new Graph(
            "cross-entropy",
            20,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(f, List.of(Dim.of(b), Dim.of(s), Dim.of(v))).toValueInfo("x"),
                new ValueType(DataType.INT64_VALUE, List.of(Dim.of(b), Dim.of(s)))
                    .toValueInfo("labels"),
                new ValueType(f, List.of(Dim.of(b), Dim.of(s))).toValueInfo("dloss")),
            List.of());
    String logits = "x";
    if (bf16) {
      g.add(LibraryGraph.cast("x", "xb", DataType.BFLOAT16_VALUE));
      logits = "xb";
    }
    Map<String, dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> attrs =
        Map.of("shift", Attr.i("shift", shift));
    g.add(
        new Node(
            FusedKernels.SOFTMAX_CROSS_ENTROPY,
            FusedKernels.DOMAIN,
            "loss",
            List.of(logits, "labels"),
            List.of("loss", "lse"),
            attrs));
    g.add(
        new Node(
            FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD,
            FusedKernels.DOMAIN,
            "grad",
            List.of("dloss", logits, "labels", "lse"),
            List.of(bf16 ? "dxb" : "dx"),
            attrs));
    if (bf16) {
      g.add(LibraryGraph.cast("dxb", "dx", f));
    }
    ValueType out = new ValueType(f, null);
    for (String o : List.of("loss", "lse", "dx")) {
      g.outputs().add(out.toValueInfo(o));
    }
    Map<String, float[]> r =
        LibraryGraph.run(
            LibraryGraph.write(g),
            Map.of(
                "x", new LibraryGraph.Feed(x, shape),
                "labels", new LibraryGraph.Feed(labels, new long[] {b, s}),
                "dloss", new LibraryGraph.Feed(dloss, new long[] {b, s})),
            List.of("loss", "lse", "dx"),
            cuda);
    return new float[][] {r.get("loss"), r.get("lse"), r.get("dx")};
  }
}
