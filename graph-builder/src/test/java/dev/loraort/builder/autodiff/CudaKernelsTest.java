package dev.loraort.builder.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each of the kernel library's CUDA kernels against its CPU kernel (the reference), op by op, on
 * ONNX Runtime's CUDA and CPU EPs, on random inputs of a few shapes: rows shorter and longer than a
 * warp and a block, and an attention matrix's [8, 20, 512, 512]. float32 ops agree within 1e-5 of
 * the output's largest value; bfloat16 ops within one bfloat16 step of each element plus that
 * float32 tolerance (the two sum in different orders before one rounding: {@link #bf16Error}).
 * Needs a CUDA GPU and NVRTC:
 *
 * <pre>
 * mvn -pl graph-builder -am test -Dgroups=gpu -Dtest=CudaKernelsTest -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 *
 * or, without Maven, JUnit's console launcher over graph-builder's test classes: {@code
 * scripts/bench/cuda_kernels_test.sh} (as run X did on the GPU machine).
 */
@Tag("gpu")
class CudaKernelsTest {
  private static final long[][] SHAPES = {
    {3, 5, 17}, {2, 4, 100, 77}, {4, 1024}, {2, 3, 3000}, {8, 20, 512, 512}
  };

  @BeforeAll
  static void cudaAndLibrary() {
    assumeTrue(FusedKernels.bundled(), "no fused-kernel library in this build");
    assumeTrue(
        OrtEnvironment.getAvailableProviders().contains(ai.onnxruntime.OrtProvider.CUDA),
        "this ONNX Runtime has no CUDA EP");
  }

  /** The softmax with a mask (one per example and key, as attention's) and a scale of 0.125. */
  private static final String MASKED_SOFTMAX = "Softmax(scale, mask)";

  /** GELU's tanh approximation (the exact one is FusedKernels.GELU with no attribute). */
  private static final String TANH_GELU = "Gelu(approximate=tanh)";

  static Stream<Arguments> ops() {
    List<Arguments> out = new ArrayList<>();
    for (long[] shape : SHAPES) {
      out.add(Arguments.of(FusedKernels.GELU_GRAD, 2, false, shape));
      out.add(Arguments.of(FusedKernels.GELU_TANH_GRAD, 2, false, shape));
      out.add(Arguments.of(FusedKernels.SWISH_GRAD, 2, false, shape));
      out.add(Arguments.of(FusedKernels.RMS_NORM_GRAD, 2, false, shape));
      out.add(Arguments.of(FusedKernels.LAYER_NORM_GRAD, 5, false, shape));
      out.add(Arguments.of(FusedKernels.SOFTMAX_GRAD, 2, false, shape));
      out.add(Arguments.of(FusedKernels.SOFTMAX_GRAD, 2, true, shape));
      out.add(Arguments.of(FusedKernels.SOFTMAX, 1, true, shape));
      out.add(Arguments.of(MASKED_SOFTMAX, 2, true, shape));
      out.add(Arguments.of(TANH_GELU, 1, true, shape));
      out.add(Arguments.of(FusedKernels.GELU, 1, true, shape));
      out.add(Arguments.of(FusedKernels.GELU_GRAD, 2, true, shape));
      out.add(Arguments.of(FusedKernels.GELU_TANH_GRAD, 2, true, shape));
      out.add(Arguments.of(FusedKernels.SWISH, 1, true, shape));
      out.add(Arguments.of(FusedKernels.SWISH_GRAD, 2, true, shape));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} bf16={2} {3}")
  @MethodSource("ops")
  void cudaKernelMatchesTheCpuKernel(String op, int inputs, boolean bf16, long[] shape)
      throws Exception {
    Path model = model(op, inputs, bf16);
    Map<String, LibraryGraph.Feed> feeds =
        inputs(op, shape, new Random(op.hashCode() + shape.length));
    float[] want = run(model, feeds, false);
    float[] got = run(model, feeds, true);
    double worst = 0;
    int equal = 0;
    for (int i = 0; i < want.length; i++) {
      equal += got[i] == want[i] ? 1 : 0;
    }
    if (bf16) {
      worst = bf16Error(want, got);
      for (float v : got) {
        assertThat(Float.floatToIntBits(v) & 0xffff).as("a bfloat16 value").isZero();
      }
      System.out.printf(
          Locale.ROOT,
          "%s bf16 %s: worst %.2f of the allowed difference, %.4f equal%n",
          op,
          java.util.Arrays.toString(shape),
          worst,
          equal / (double) want.length);
      assertThat(worst).isLessThanOrEqualTo(1.0);
    } else {
      worst = float32Error(want, got);
      System.out.printf(
          Locale.ROOT,
          "%s float32 %s: worst %.3g of max%n",
          op,
          java.util.Arrays.toString(shape),
          worst);
      assertThat(worst).isLessThanOrEqualTo(1e-5);
    }
  }

  /**
   * The LM loss and its gradient (SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad, next-token shift)
   * against the CPU kernels: rows of a short class list and of GPT-2's and Qwen2-VL's vocabularies,
   * some labels ignored. The loss and log-sum-exp within 1e-5 of the row's log-sum-exp, the
   * gradient within 1e-5 of its largest value (float32) or as {@link #bf16Error} allows (bfloat16).
   */
  /**
   * The bf16 graphs' norms against the CPU kernels: the library's LayerNorm and RMSNorm (float32
   * in, bfloat16 out) and their gradients reading a bfloat16 dY (float32 out), on rows of 17, 1,024
   * and 1,280 (GPT-2 large's width): bfloat16 outputs as {@link #bf16Error} allows, float32 ones
   * within 1e-5 of their largest value.
   */
  @ParameterizedTest(name = "[{0}, {1}]")
  @org.junit.jupiter.params.provider.CsvSource({"6, 17", "64, 1024", "4096, 1280"})
  void bf16NormsMatchTheCpuKernels(int rows, int h) throws Exception {
    Random rnd = new Random(h);
    int f = DataType.FLOAT_VALUE;
    ValueType any = new ValueType(f, null);
    Graph g =
        new Graph(
            "norms",
            20,
            List.of(),
            Map.of(),
            List.of(
                any.toValueInfo("x"),
                any.toValueInfo("scale"),
                any.toValueInfo("bias"),
                any.toValueInfo("dy")),
            List.of());
    g.add(LibraryGraph.cast("dy", "dyb", DataType.BFLOAT16_VALUE));
    g.add(
        new Node(
            FusedKernels.LAYER_NORM,
            FusedKernels.DOMAIN,
            "ln",
            List.of("x", "scale", "bias"),
            List.of("ln_b", "mean", "inv"),
            Map.of("epsilon", Attr.f("epsilon", 1e-5f))));
    g.add(
        new Node(
            FusedKernels.LAYER_NORM_GRAD,
            FusedKernels.DOMAIN,
            "ln_grad",
            List.of("dyb", "x", "scale", "mean", "inv"),
            List.of("ln_dx"),
            Map.of()));
    g.add(
        new Node(
            FusedKernels.RMS_NORM,
            FusedKernels.DOMAIN,
            "rms",
            List.of("x", "scale"),
            List.of("rms_b"),
            Map.of("epsilon", Attr.f("epsilon", 1e-6f))));
    g.add(
        new Node(
            FusedKernels.RMS_NORM_GRAD,
            FusedKernels.DOMAIN,
            "rms_grad",
            List.of("dyb", "x"),
            List.of("rms_dx"),
            Map.of("epsilon", Attr.f("epsilon", 1e-6f))));
    g.add(LibraryGraph.cast("ln_b", "ln_y", f));
    g.add(LibraryGraph.cast("rms_b", "rms_y", f));
    List<String> outs = List.of("ln_y", "mean", "inv", "ln_dx", "rms_y", "rms_dx");
    outs.forEach(o -> g.outputs().add(any.toValueInfo(o)));
    long[] shape = {rows, h};
    Map<String, LibraryGraph.Feed> feeds =
        Map.of(
            "x", new LibraryGraph.Feed(gaussian(rows * h, rnd, 2), shape),
            "scale", new LibraryGraph.Feed(gaussian(h, rnd, 1), new long[] {h}),
            "bias", new LibraryGraph.Feed(gaussian(h, rnd, 1), new long[] {h}),
            "dy", new LibraryGraph.Feed(gaussian(rows * h, rnd, 1), shape));
    Path model = LibraryGraph.write(g);
    Map<String, float[]> want = LibraryGraph.run(model, feeds, outs, false);
    Map<String, float[]> got = LibraryGraph.run(model, feeds, outs, true);
    for (String o : outs) {
      float[] w = want.get(o);
      float[] x = got.get(o);
      boolean bf16 = o.endsWith("_y");
      double worst = bf16 ? bf16Error(w, x) : float32Error(w, x);
      System.out.printf(Locale.ROOT, "%s [%d, %d]: worst %.3g%n", o, rows, h, worst);
      assertThat(worst).as(o).isLessThanOrEqualTo(bf16 ? 1.0 : 1e-5);
    }
  }

  @ParameterizedTest(name = "bf16={0} [{1}, {2}, {3}]")
  @org.junit.jupiter.params.provider.CsvSource({
    "false, 3, 5, 37",
    "true, 3, 5, 37",
    "false, 4, 128, 50257",
    "true, 4, 128, 50257",
    "true, 2, 16, 151936"
  })
  void crossEntropyMatchesTheCpuKernels(boolean bf16, int b, int s, int v) throws Exception {
    Random rnd = new Random(v);
    float[] x = gaussian(b * s * v, rnd, 3);
    long[] labels = new long[b * s];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i % 7 == 3 ? -100 : rnd.nextInt(v);
    }
    float[] dloss = gaussian(b * s, rnd, 1);
    long[] shape = {b, s, v};
    float[][] want = CrossEntropyKernelsTest.run(x, labels, dloss, shape, bf16, 1, false);
    float[][] got = CrossEntropyKernelsTest.run(x, labels, dloss, shape, bf16, 1, true);
    for (int k = 0; k < 2; k++) { // loss, log-sum-exp: float32 per row
      for (int r = 0; r < b * s; r++) {
        double tol = 1e-5 * Math.max(1, Math.abs(want[1][r]));
        assertThat((double) got[k][r])
            .as("output " + k + ", row " + r)
            .isCloseTo(want[k][r], org.assertj.core.data.Offset.offset(tol));
      }
    }
    double worst = bf16 ? bf16Error(want[2], got[2]) : float32Error(want[2], got[2]);
    System.out.printf(
        Locale.ROOT,
        "SoftmaxCrossEntropyGrad %s [%d, %d, %d]: worst %.3g%s%n",
        bf16 ? "bf16" : "float32",
        b,
        s,
        v,
        worst,
        bf16 ? " of a bf16 step" : " of max");
    assertThat(worst).isLessThanOrEqualTo(bf16 ? 1.0 : 1e-5);
  }

  /**
   * Float inputs x0.., cast to bf16 where the op takes bf16, the op, its output cast to float y.
   */
  private static Path model(String op, int inputs, boolean bf16) throws Exception {
    ValueType any = new ValueType(DataType.FLOAT_VALUE, null);
    List<dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto> in = new ArrayList<>();
    for (int i = 0; i < inputs; i++) {
      in.add(any.toValueInfo("x" + i));
    }
    Graph g = new Graph(op, 20, List.of(), Map.of(), in, List.of());
    List<String> names = new ArrayList<>();
    for (int i = 0; i < inputs; i++) {
      String x = "x" + i;
      if (bf16) {
        g.add(LibraryGraph.cast(x, x + "b", DataType.BFLOAT16_VALUE));
        x += "b";
      }
      names.add(x);
    }
    boolean masked = op.equals(MASKED_SOFTMAX);
    boolean tanh = op.equals(TANH_GELU);
    g.add(
        new Node(
            masked ? FusedKernels.SOFTMAX : tanh ? FusedKernels.GELU : op,
            FusedKernels.DOMAIN,
            "op",
            names,
            List.of(bf16 ? "yb" : "y"),
            masked
                ? Map.of("scale", Attr.f("scale", 0.125f))
                : tanh
                    ? Map.of("approximate", Attr.s("approximate", "tanh"))
                    : op.equals(FusedKernels.SWISH_GRAD) || op.equals(FusedKernels.SWISH)
                        ? Map.of("alpha", Attr.f("alpha", 1.702f)) // CLIP's QuickGELU
                        : Map.of()));
    if (bf16) {
      g.add(LibraryGraph.cast("yb", "y", DataType.FLOAT_VALUE));
    }
    g.outputs().add(any.toValueInfo("y"));
    return LibraryGraph.write(g);
  }

  private static Map<String, LibraryGraph.Feed> inputs(String op, long[] shape, Random rnd) {
    int h = (int) shape[shape.length - 1];
    int n = 1;
    for (long d : shape) {
      n *= (int) d;
    }
    long[] stats = shape.clone(); // LayerNorm's Mean and InvStdDev: one per row
    stats[stats.length - 1] = 1;
    float[] x = gaussian(n, rnd, 1);
    Map<String, LibraryGraph.Feed> feeds = new LinkedHashMap<>();
    switch (op) {
      case FusedKernels.SOFTMAX ->
          feeds.put("x0", new LibraryGraph.Feed(scale(x, 4), shape)); // logits
      case FusedKernels.GELU, TANH_GELU, FusedKernels.SWISH ->
          feeds.put("x0", new LibraryGraph.Feed(scale(x, 3), shape));
      case MASKED_SOFTMAX -> {
        feeds.put("x0", new LibraryGraph.Feed(scale(x, 30), shape));
        long[] maskShape = new long[shape.length]; // [examples, 1, ..., keys]
        java.util.Arrays.fill(maskShape, 1);
        maskShape[0] = shape[0];
        maskShape[shape.length - 1] = h;
        float[] mask = new float[(int) (shape[0] * h)];
        for (int j = 0; j < mask.length; j += 3) {
          mask[j] = -10000f;
        }
        feeds.put("x1", new LibraryGraph.Feed(mask, maskShape));
      }
      case FusedKernels.SOFTMAX_GRAD -> {
        feeds.put("x0", new LibraryGraph.Feed(gaussian(n, rnd, 0.01), shape));
        float[] y = new float[n]; // a softmax's rows
        for (int r = 0; r < n / h; r++) {
          double sum = 0;
          for (int j = 0; j < h; j++) {
            sum += Math.exp(x[r * h + j]);
          }
          for (int j = 0; j < h; j++) {
            y[r * h + j] = (float) (Math.exp(x[r * h + j]) / sum);
          }
        }
        feeds.put("x1", new LibraryGraph.Feed(y, shape));
      }
      case FusedKernels.LAYER_NORM_GRAD -> {
        float[] mean = new float[n / h];
        float[] inv = new float[n / h];
        for (int r = 0; r < n / h; r++) {
          double s = 0;
          double s2 = 0;
          for (int j = 0; j < h; j++) {
            s += x[r * h + j];
            s2 += (double) x[r * h + j] * x[r * h + j];
          }
          mean[r] = (float) (s / h);
          inv[r] = (float) (1 / Math.sqrt(s2 / h - (s / h) * (s / h) + 1e-5));
        }
        feeds.put("x0", new LibraryGraph.Feed(gaussian(n, rnd, 1), shape));
        feeds.put("x1", new LibraryGraph.Feed(x, shape));
        feeds.put("x2", new LibraryGraph.Feed(gaussian(h, rnd, 1), new long[] {h}));
        feeds.put("x3", new LibraryGraph.Feed(mean, stats));
        feeds.put("x4", new LibraryGraph.Feed(inv, stats));
      }
      default -> { // GELU's, the swish's and RMSNorm's: dY, X
        feeds.put("x0", new LibraryGraph.Feed(gaussian(n, rnd, 1), shape));
        feeds.put("x1", new LibraryGraph.Feed(scale(x, 3), shape));
      }
    }
    return feeds;
  }

  private static float[] gaussian(int n, Random rnd, double sd) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rnd.nextGaussian() * sd);
    }
    return v;
  }

  private static float[] scale(float[] v, float k) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] * k;
    }
    return out;
  }

  private static float[] run(Path model, Map<String, LibraryGraph.Feed> feeds, boolean cuda)
      throws OrtException {
    return LibraryGraph.run(model, feeds, List.of("y"), cuda).get("y");
  }

  /** The largest difference, as a fraction of the reference's largest magnitude. */
  private static double float32Error(float[] want, float[] got) {
    double max = 0;
    double diff = 0;
    for (int i = 0; i < want.length; i++) {
      max = Math.max(max, Math.abs(want[i]));
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
    }
    return diff / max;
  }

  /**
   * The largest difference of bfloat16 results, as a fraction of what two correct kernels may
   * differ by: one bfloat16 step at the element's magnitude (2^-7 relative; each rounds its float32
   * value once), plus the float32 kernels' tolerance (1e-5 of the largest magnitude), since the
   * float32 values before that rounding come from sums in different orders, and where the result is
   * a cancellation (x - mean + bias, dY - sum(dY Y)) that difference is large next to the result.
   */
  private static double bf16Error(float[] want, float[] got) {
    double max = 0;
    for (float w : want) {
      max = Math.max(max, Math.abs(w));
    }
    double worst = 0;
    for (int i = 0; i < want.length; i++) {
      double magnitude = Math.max(Math.max(Math.abs(want[i]), Math.abs(got[i])), Float.MIN_NORMAL);
      double allowed = magnitude * 0x1p-7 + 1e-5 * max;
      worst = Math.max(worst, Math.abs(got[i] - want[i]) / allowed);
    }
    return worst;
  }
}
