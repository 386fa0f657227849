package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The decomposed LayerNorm and GELU of exported models become the ops, with the same values. */
class FusionsTest {
  @TempDir Path dir;

  /** x [2, 3, 8] -> LayerNorm as TorchScript writes it -> GELU as torch exporters write it. */
  private static Graph decomposed() {
    Graph g =
        new Graph(
            "fusions",
            18,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(DataType.FLOAT_VALUE, List.of(Dim.sym("b"), Dim.of(3), Dim.of(8)))
                    .toValueInfo("x")),
            List.of());
    Random r = new Random(1);
    float[] gamma = new float[8];
    float[] beta = new float[8];
    for (int i = 0; i < 8; i++) {
      gamma[i] = (float) (1 + 0.1 * r.nextGaussian());
      beta[i] = (float) (0.1 * r.nextGaussian());
    }
    g.addInitializer("ln.weight", Tensors.floats("ln.weight", new long[] {8}, gamma));
    g.addInitializer("ln.bias", Tensors.floats("ln.bias", new long[] {8}, beta));
    Emitter e = new Emitter(g, "t");
    String mean = e.op("ReduceMean", List.of("x", e.ints(-1)), Attr.i("keepdims", 1));
    String d = e.sub("x", mean);
    String var =
        e.op(
            "ReduceMean",
            List.of(e.op("Pow", d, e.scalar(2, DataType.FLOAT_VALUE)), e.ints(-1)),
            Attr.i("keepdims", 1));
    String std = e.op("Sqrt", e.add(var, e.scalar(1e-12, DataType.FLOAT_VALUE)));
    String ln = e.add(e.mul(e.div(d, std), "ln.weight"), "ln.bias");
    String erf = e.op("Erf", e.div(ln, e.scalar(Math.sqrt(2), DataType.FLOAT_VALUE)));
    String onePlus = e.add(erf, e.scalar(1, DataType.FLOAT_VALUE));
    String y = e.mul(e.mul(ln, onePlus), e.scalar(0.5, DataType.FLOAT_VALUE));
    g.add(new Node("Identity", "", "", List.of(y), List.of("y"), Map.of()));
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y"));
    return g;
  }

  @Test
  void layerNormAndGeluAreFusedWithTheSameValues() throws Exception {
    Graph before = decomposed();
    Graph after = decomposed();
    after.sortTopologically();
    int[] fused = Fusions.apply(after, Shapes.infer(after));
    assertThat(fused).containsExactly(1, 1);
    assertThat(after.nodes())
        .extracting(Node::op)
        .containsExactly("LayerNormalization", "Gelu", "Identity");
    assertThat(after.opset()).isEqualTo(Fusions.GELU_OPSET);
    float[] x = new float[2 * 3 * 8];
    Random r = new Random(2);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (2 * r.nextGaussian());
    }
    float[] a = run(before, "before", x);
    float[] b = run(after, "after", x);
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    assertThat(worst).isLessThan(1e-5);
  }

  @Test
  void aPatternWhoseMiddleIsReadElsewhereIsLeftAlone() {
    Graph g = decomposed();
    // the normalized value (before the scale) is also a graph output: fusing would lose it
    Node div = g.nodes().stream().filter(n -> n.op().equals("Div")).findFirst().orElseThrow();
    g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo(div.out(0)));
    g.sortTopologically();
    assertThat(Fusions.apply(g, Shapes.infer(g))[0]).isZero();
  }

  private float[] run(Graph g, String name, float[] x) throws Exception {
    Path f = dir.resolve(name + ".onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve(name + ".bin"))) {
      OnnxModels.write(g, f, w, Map.of(), "test");
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(f.toString(), new OrtSession.SessionOptions());
        OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, 3, 8});
        OrtSession.Result out = s.run(Map.of("x", in))) {
      float[][][] y = (float[][][]) out.get(0).getValue();
      float[] flat = new float[x.length];
      int k = 0;
      for (float[][] a : y) {
        for (float[] b : a) {
          for (float v : b) {
            flat[k++] = v;
          }
        }
      }
      return flat;
    }
  }
}
