package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * GatherND and integer ArgMax rewritten for the CUDA EP give the values of the original ops,
 * checked on the CPU EP over random data and indices (negative ones included).
 */
class CudaRewritesTest {
  @TempDir Path dir;
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();

  /**
   * One GatherND case.
   *
   * @param dataShape data's shape, {@code x} separated
   * @param indexShape the indices' shape; its last dim is how many axes each index names
   * @param bool bool data (the attention-mask form) or float
   * @param symbolic data's dims symbolic in the graph (computed at run time) or fixed
   */
  @ParameterizedTest(name = "data {0}, indices {1}, bool {2}, symbolic {3}")
  @CsvSource({
    "3x5, 3x1x4x5x2, true, true", // transformers' mask: [batch, kv] at [b, 1, q, kv, 2]
    "3x5, 3x1x4x5x2, true, false",
    "2x6x4, 2x2, false, true", // CLIP's pooling: [batch, seq, hidden] at [b, 2]
    "2x6x4, 2x2, false, false",
    "4x3x2, 5x3, false, true", // every axis indexed: scalars out
    "7x3, 2x3x1, false, true", // one axis
  })
  void gatherNdKeepsItsValues(String dataShape, String indexShape, boolean bool, boolean symbolic)
      throws Exception {
    long[] ds = dims(dataShape);
    long[] is = dims(indexShape);
    int type = bool ? DataType.BOOL_VALUE : DataType.FLOAT_VALUE;
    Graph before = gatherNd(ds, is, type, symbolic);
    Graph after = gatherNd(ds, is, type, symbolic);
    assertThat(CudaRewrites.apply(after, Shapes.infer(after))).containsExactly(1, 0);
    assertThat(after.nodes()).extracting(Node::op).doesNotContain("GatherND");
    Random r = new Random(ds.length * 31L + is.length);
    for (int trial = 0; trial < 5; trial++) {
      long[] idx = new long[(int) prod(is)];
      int k = (int) is[is.length - 1];
      for (int i = 0; i < idx.length; i++) {
        long d = ds[i % k];
        idx[i] = r.nextInt((int) (2 * d)) - d; // -d .. d-1: GatherND's whole range
      }
      Map<String, Object> feeds = Map.of("data", data(ds, bool, r), "idx", idx);
      assertThat(run(after, "after", feeds, ds, is))
          .isEqualTo(run(before, "before", feeds, ds, is));
    }
  }

  @Test
  void integerArgMaxReadsDoublesWithTheSameTies() throws Exception {
    Graph before = argMax();
    Graph after = argMax();
    assertThat(CudaRewrites.apply(after, Shapes.infer(after))).containsExactly(0, 1);
    Node argMax =
        after.nodes().stream().filter(n -> n.op().equals("ArgMax")).findFirst().orElseThrow();
    assertThat(after.producers().get(argMax.in(0)).op()).isEqualTo("Cast");
    Random r = new Random(5);
    for (int trial = 0; trial < 5; trial++) {
      int[] x = new int[4 * 9];
      for (int i = 0; i < x.length; i++) {
        x[i] = trial == 0 ? Integer.MAX_VALUE - r.nextInt(2) : r.nextInt(3); // ties on purpose
      }
      long[] a = argMax(before, "before", x);
      assertThat(argMax(after, "after", x)).isEqualTo(a);
    }
  }

  @Test
  void int64ArgMaxIsLeftAlone() {
    Graph g = argMaxOf(DataType.INT64_VALUE);
    assertThat(CudaRewrites.apply(g, Shapes.infer(g))).containsExactly(0, 0);
  }

  @Test
  void aHostValueReadByADeviceKernelIsNamedAndADimMovesToTheDevice() throws Exception {
    Graph g =
        new Graph(
            "host",
            18,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(DataType.FLOAT_VALUE, List.of(Dim.sym("b"), Dim.of(4)))
                    .toValueInfo("x")),
            List.of());
    Emitter e = new Emitter(g, "t");
    // a shape read as a shape stays on the host: fine
    String flat = e.reshape("x", e.op("Shape", "x"));
    assertThat(CudaRewrites.hostReads(g)).isEmpty();
    // the batch size as a float divisor: a device kernel reads a host value
    String n =
        e.op(
            "Cast",
            List.of(e.op("Gather", List.of(e.op("Shape", "x"), e.int64(0)), Attr.i("axis", 0))),
            Attr.i("to", DataType.FLOAT_VALUE));
    String y = e.div(flat, n);
    g.add(new Node("Identity", "", "", List.of(y), List.of("y"), Map.of()));
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));
    assertThat(CudaRewrites.hostReads(g)).singleElement().asString().startsWith("Gather ");
    // the dim moves to the device, with the same values
    Graph before = copyOf(g);
    assertThat(CudaRewrites.moveDimsToDevice(g)).isEqualTo(1);
    assertThat(CudaRewrites.hostReads(g)).isEmpty();
    float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assertThat(floats(g, "after", x)).containsExactly(floats(before, "before", x));
  }

  private static Graph copyOf(Graph g) {
    return g.copy();
  }

  private float[] floats(Graph g, String name, float[] x) throws Exception {
    try (OrtSession s = session(g, name);
        OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {3, 4});
        OrtSession.Result out = s.run(Map.of("x", in))) {
      float[][] y = (float[][]) out.get(0).getValue();
      float[] flat = new float[12];
      for (int i = 0; i < 3; i++) {
        System.arraycopy(y[i], 0, flat, 4 * i, 4);
      }
      return flat;
    }
  }

  private static Graph gatherNd(long[] ds, long[] is, int type, boolean symbolic) {
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < ds.length; i++) {
      d.add(symbolic ? Dim.sym("d" + i) : Dim.of(ds[i]));
    }
    List<Dim> ix = new ArrayList<>();
    for (int i = 0; i < is.length; i++) {
      // the last dim (how many axes) is fixed, as exporters write it; the rest may vary
      ix.add(i == is.length - 1 ? Dim.of(is[i]) : Dim.sym("i" + i));
    }
    Graph g =
        new Graph(
            "gathernd",
            18,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(type, d).toValueInfo("data"),
                new ValueType(DataType.INT64_VALUE, ix).toValueInfo("idx")),
            List.of());
    g.add(new Node("GatherND", "", "g", List.of("data", "idx"), List.of("y"), Map.of()));
    g.outputs().add(new ValueType(type, null).toValueInfo("y"));
    g.sortTopologically();
    return g;
  }

  private static Graph argMax() {
    return argMaxOf(DataType.INT32_VALUE);
  }

  private static Graph argMaxOf(int type) {
    Graph g =
        new Graph(
            "argmax",
            18,
            List.of(),
            Map.of(),
            List.of(new ValueType(type, List.of(Dim.sym("b"), Dim.of(9))).toValueInfo("x")),
            List.of());
    g.add(
        new Node(
            "ArgMax",
            "",
            "a",
            List.of("x"),
            List.of("y"),
            Map.of("axis", Attr.i("axis", -1), "keepdims", Attr.i("keepdims", 0))));
    g.outputs().add(new ValueType(DataType.INT64_VALUE, null).toValueInfo("y"));
    g.sortTopologically();
    return g;
  }

  private static Object data(long[] ds, boolean bool, Random r) {
    int n = (int) prod(ds);
    if (bool) {
      byte[] b = new byte[n];
      for (int i = 0; i < n; i++) {
        b[i] = (byte) r.nextInt(2);
      }
      return b;
    }
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) r.nextGaussian();
    }
    return f;
  }

  /** The output's values as text (exact comparison of bools and floats alike). */
  private String run(Graph g, String name, Map<String, Object> feeds, long[] ds, long[] is)
      throws Exception {
    try (OrtSession s = session(g, name);
        OnnxTensor data =
            feeds.get("data") instanceof byte[] b
                ? OnnxTensor.createTensor(
                    env, ByteBuffer.wrap(b), ds, ai.onnxruntime.OnnxJavaType.BOOL)
                : OnnxTensor.createTensor(env, FloatBuffer.wrap((float[]) feeds.get("data")), ds);
        OnnxTensor idx =
            OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) feeds.get("idx")), is);
        OrtSession.Result out = s.run(Map.of("data", data, "idx", idx))) {
      OnnxValue v = out.get(0);
      return Arrays.deepToString(new Object[] {v.getValue()});
    }
  }

  private long[] argMax(Graph g, String name, int[] x) throws Exception {
    try (OrtSession s = session(g, name);
        OnnxTensor in = OnnxTensor.createTensor(env, IntBuffer.wrap(x), new long[] {4, 9});
        OrtSession.Result out = s.run(Map.of("x", in))) {
      return (long[]) out.get(0).getValue();
    }
  }

  private OrtSession session(Graph g, String name) throws Exception {
    Path f = dir.resolve(name + ".onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve(name + ".bin"))) {
      OnnxModels.write(g, f, w, Map.of(), "test");
    }
    return env.createSession(f.toString(), new OrtSession.SessionOptions());
  }

  private static long[] dims(String s) {
    return Arrays.stream(s.split("x")).mapToLong(Long::parseLong).toArray();
  }

  private static long prod(long[] d) {
    long p = 1;
    for (long x : d) {
      p *= x;
    }
    return p;
  }
}
