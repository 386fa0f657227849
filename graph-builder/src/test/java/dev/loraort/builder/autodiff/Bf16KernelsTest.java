package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The kernel library's bfloat16 Softmax and SoftmaxGrad (CPU kernels, the reference of the CUDA
 * ones) against the same math in double on the same bfloat16 inputs, rounded once: within one
 * bfloat16 step of it, and mostly equal. The softmax scales its input and adds a broadcast mask, as
 * attention's does; its gradient scales too.
 */
class Bf16KernelsTest {
  private static final long[] SHAPE = {2, 3, 4, 77}; // rows of 77: not a multiple of a warp
  private static final long[] MASK_SHAPE = {2, 1, 1, 77}; // per example and key, as attention's
  private static final int ROWS = 24;
  private static final int H = 77;
  private static final float SCALE = 0.125f;

  @BeforeAll
  static void libraryBuilt() {
    assumeTrue(FusedKernels.bundled(), "no fused-kernel library in this build (no /usr/bin/cc)");
  }

  @Test
  void softmaxAndItsGradientRoundOnceFromFloat32Math() throws Exception {
    Random rnd = new Random(7);
    float[] x = new float[ROWS * H];
    float[] dy = new float[ROWS * H];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * 4); // attention logits span a few units
      dy[i] = (float) rnd.nextGaussian() * 0.01f;
    }
    float[] mask = new float[2 * H];
    for (int j = 0; j < mask.length; j += 5) {
      mask[j] = -10000f; // masked keys
    }
    Map<String, float[]> values = new LinkedHashMap<>();
    values.put("x", x);
    values.put("mask", mask);
    values.put("dy", dy);
    Map<String, dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> scale =
        Map.of("scale", Attr.f("scale", SCALE));
    float[][] got =
        run(
            values,
            Map.of("x", SHAPE, "mask", MASK_SHAPE, "dy", SHAPE),
            new Node(
                FusedKernels.SOFTMAX,
                FusedKernels.DOMAIN,
                "softmax",
                List.of("xb", "maskb"),
                List.of("yb"),
                scale),
            new Node(
                FusedKernels.SOFTMAX_GRAD,
                FusedKernels.DOMAIN,
                "grad",
                List.of("dyb", "yb"),
                List.of("dxb"),
                scale));
    float[] xb = round(x);
    float[] mb = round(mask);
    float[] dyb = round(dy);
    float[] y = new float[x.length];
    float[] dx = new float[x.length];
    for (int r = 0; r < ROWS; r++) {
      double[] logit = new double[H];
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < H; j++) {
        logit[j] = SCALE * xb[r * H + j] + mb[r / 12 * H + j]; // row r is example r / 12's
        max = Math.max(max, logit[j]);
      }
      double sum = 0;
      for (int j = 0; j < H; j++) {
        sum += Math.exp(logit[j] - max);
      }
      for (int j = 0; j < H; j++) {
        y[r * H + j] = (float) (Math.exp(logit[j] - max) / sum);
      }
    }
    float[] yb = round(y);
    // the gradient from the kernel's own bfloat16 probabilities, as the graph feeds it
    float[] yGot = got[0];
    for (int r = 0; r < ROWS; r++) {
      double dot = 0;
      for (int j = 0; j < H; j++) {
        dot += (double) dyb[r * H + j] * yGot[r * H + j];
      }
      for (int j = 0; j < H; j++) {
        dx[r * H + j] = (float) (SCALE * yGot[r * H + j] * (dyb[r * H + j] - dot));
      }
    }
    assertWithinOneStep("Softmax", got[0], yb);
    assertWithinOneStep("SoftmaxGrad", got[1], round(dx));
    assertThat(got[0][5]).isZero(); // a masked key
    assertThat(got[0][12 * H + 3]).isZero(); // the second example's: its mask index 77 + 3
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"none", "tanh"})
  void geluAndItsGradientRoundOnceFromFloat32Math(String approximate) throws Exception {
    Random rnd = new Random(11);
    int n = 4096;
    float[] x = new float[n];
    float[] dy = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] =
          (float) Math.max(-4, Math.min(4, rnd.nextGaussian() * 1.5)); // a layer's pre-activations
      dy[i] = (float) rnd.nextGaussian();
    }
    String grad = approximate.equals("tanh") ? FusedKernels.GELU_TANH_GRAD : FusedKernels.GELU_GRAD;
    Map<String, float[]> values = new LinkedHashMap<>();
    values.put("x", x);
    values.put("dy", dy);
    long[] shape = {n};
    float[][] got =
        run(
            values,
            Map.of("x", shape, "dy", shape),
            new Node(
                FusedKernels.GELU,
                FusedKernels.DOMAIN,
                "gelu",
                List.of("xb"),
                List.of("yb"),
                Map.of("approximate", Attr.s("approximate", approximate))),
            new Node(
                grad, FusedKernels.DOMAIN, "grad", List.of("dyb", "xb"), List.of("dxb"), Map.of()));
    float[] xb = round(x);
    float[] dyb = round(dy);
    float[] y = new float[n];
    float[] dx = new float[n];
    boolean tanh = approximate.equals("tanh");
    for (int i = 0; i < n; i++) {
      double v = xb[i];
      double k = Math.sqrt(2 / Math.PI);
      double t = Math.tanh(k * (v + 0.044715 * v * v * v));
      double cdf = tanh ? 0.5 * (1 + t) : phi(v);
      y[i] = (float) (v * cdf);
      double slope =
          tanh
              ? 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)
              : cdf + v * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
      dx[i] = (float) (dyb[i] * slope);
    }
    assertWithinOneStep("Gelu " + approximate, got[0], round(y));
    assertWithinOneStep(grad, got[1], round(dx));
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(floats = {1f, 1.702f}) // SiLU, QuickGELU
  void swishAndItsGradientRoundOnceFromFloat32Math(float alpha) throws Exception {
    Random rnd = new Random(13);
    int n = 4096;
    float[] x = new float[n];
    float[] dy = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (rnd.nextGaussian() * 3);
      dy[i] = (float) rnd.nextGaussian();
    }
    Map<String, float[]> values = new LinkedHashMap<>();
    values.put("x", x);
    values.put("dy", dy);
    long[] shape = {n};
    var a = Map.of("alpha", Attr.f("alpha", alpha));
    float[][] got =
        run(
            values,
            Map.of("x", shape, "dy", shape),
            new Node(
                FusedKernels.SWISH, FusedKernels.DOMAIN, "swish", List.of("xb"), List.of("yb"), a),
            new Node(
                FusedKernels.SWISH_GRAD,
                FusedKernels.DOMAIN,
                "grad",
                List.of("dyb", "xb"),
                List.of("dxb"),
                a));
    float[] xb = round(x);
    float[] dyb = round(dy);
    float[] y = new float[n];
    float[] dx = new float[n];
    for (int i = 0; i < n; i++) {
      double v = xb[i];
      double s = 1 / (1 + Math.exp(-alpha * v));
      y[i] = (float) (v * s);
      dx[i] = (float) (dyb[i] * (s + alpha * v * s * (1 - s)));
    }
    assertWithinOneStep("Swish " + alpha, got[0], round(y));
    assertWithinOneStep("SwishGrad " + alpha, got[1], round(dx));
  }

  /**
   * The standard normal CDF from erfc by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7:
   * within a bf16 step of GELU's values for inputs in [-4, 4]), on the side where it does not
   * cancel.
   */
  private static double phi(double v) {
    double z = Math.abs(v) / Math.sqrt(2);
    double t = 1 / (1 + 0.3275911 * z);
    double erfc =
        t
            * (0.254829592
                + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
            * Math.exp(-z * z);
    return v >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
  }

  private static void assertWithinOneStep(String op, float[] got, float[] want) {
    int equal = 0;
    for (int i = 0; i < got.length; i++) {
      assertThat(Float.floatToIntBits(got[i]) & 0xffff).as(op + " writes bfloat16").isZero();
      double step = Math.ulp(want[i]) * 65536; // one bfloat16 step at want's magnitude
      assertThat((double) Math.abs(got[i] - want[i]))
          .as(op + "[" + i + "]")
          .isLessThanOrEqualTo(step);
      equal += got[i] == want[i] ? 1 : 0;
    }
    assertThat(equal)
        .as(op + ": elements equal to the rounded reference")
        .isGreaterThan(got.length * 9 / 10);
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
   * Float32 inputs cast to bf16 (x to xb, ...), the two library ops given (writing yb and dxb),
   * their results cast back and returned: y, dx.
   */
  private static float[][] run(
      Map<String, float[]> values, Map<String, long[]> shapes, Node forward, Node backward)
      throws Exception {
    int f = DataType.FLOAT_VALUE;
    List<dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto> inputs = new ArrayList<>();
    values.keySet().forEach(v -> inputs.add(new ValueType(f, dims(shapes.get(v))).toValueInfo(v)));
    Graph g = new Graph("bf16-kernels", 20, List.of(), Map.of(), inputs, List.of());
    for (String v : values.keySet()) {
      g.add(LibraryGraph.cast(v, v + "b", DataType.BFLOAT16_VALUE));
    }
    g.add(forward);
    g.add(backward);
    g.add(LibraryGraph.cast("yb", "y", f));
    g.add(LibraryGraph.cast("dxb", "dx", f));
    ValueType out = new ValueType(f, null);
    g.outputs().add(out.toValueInfo("y"));
    g.outputs().add(out.toValueInfo("dx"));
    Map<String, LibraryGraph.Feed> feeds = new LinkedHashMap<>();
    values.forEach((v, x) -> feeds.put(v, new LibraryGraph.Feed(x, shapes.get(v))));
    Map<String, float[]> r =
        LibraryGraph.run(LibraryGraph.write(g), feeds, List.of("y", "dx"), false);
    return new float[][] {r.get("y"), r.get("dx")};
  }

  private static List<Dim> dims(long[] shape) {
    return java.util.Arrays.stream(shape).mapToObj(Dim::of).toList();
  }
}
