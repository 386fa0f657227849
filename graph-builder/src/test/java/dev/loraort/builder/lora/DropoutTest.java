package dev.loraort.builder.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.WeightsFile;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dropout mask on the ONNX Runtime CPU EP: the rate asked for, the 1/(1-p) scale, no visible
 * structure, a new mask per seed and per layer, the same mask for the same seed, and x itself at p
 * = 0.
 */
class DropoutTest {
  private static final int ROWS = 64;
  private static final int COLS = 256;
  @TempDir Path dir;
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private OrtSession session;

  @BeforeEach
  void build() throws Exception {
    Graph g =
        new Graph(
            "dropout",
            18,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(DataType.FLOAT_VALUE, List.of(Dim.sym("b"), Dim.of(COLS)))
                    .toValueInfo("x"),
                new ValueType(DataType.FLOAT_VALUE, List.of())
                    .toValueInfo(TensorNames.LORA_DROPOUT),
                new ValueType(DataType.INT64_VALUE, List.of())
                    .toValueInfo(TensorNames.LORA_DROPOUT_SEED)),
            List.of());
    Emitter e = new Emitter(g, "t");
    for (int layer = 0; layer < 2; layer++) {
      String y = Dropout.apply(e, "x", layer);
      g.add(new Node("Identity", "", "", List.of(y), List.of("y" + layer), Map.of()));
      g.outputs().add(new ValueType(DataType.FLOAT_VALUE, null).toValueInfo("y" + layer));
    }
    g.sortTopologically();
    Path f = dir.resolve("dropout.onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve("w.bin"))) {
      OnnxModels.write(g, f, w, Map.of(), "test");
    }
    session = env.createSession(f.toString(), new OrtSession.SessionOptions());
  }

  private float[][] run(float[] x, float p, long seed) throws Exception {
    try (OnnxTensor xt =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {ROWS, COLS});
        OnnxTensor pt =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {p}), new long[0]);
        OnnxTensor st =
            OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {seed}), new long[0]);
        OrtSession.Result r =
            session.run(
                Map.of("x", xt, TensorNames.LORA_DROPOUT, pt, TensorNames.LORA_DROPOUT_SEED, st))) {
      float[][] out = new float[2][];
      for (int layer = 0; layer < 2; layer++) {
        float[][] y = (float[][]) r.get(layer).getValue();
        out[layer] = new float[ROWS * COLS];
        for (int i = 0; i < ROWS; i++) {
          System.arraycopy(y[i], 0, out[layer], i * COLS, COLS);
        }
      }
      return out;
    }
  }

  private static float[] ones() {
    float[] x = new float[ROWS * COLS];
    java.util.Arrays.fill(x, 1f);
    return x;
  }

  @Test
  void dropsAtTheRateAskedWithTheInverseScaleAndNoStructure() throws Exception {
    float p = 0.3f;
    float[] y = run(ones(), p, Dropout.seed(7, 1, 0))[0];
    int dropped = 0;
    double sxy = 0;
    double sx = 0;
    for (int i = 0; i < y.length; i++) {
      assertThat(y[i]).isIn(0f, 1f / (1f - p));
      if (y[i] == 0) {
        dropped++;
      }
    }
    // 16,384 draws: the rate within 4 standard deviations (0.0143)
    assertThat(dropped / (double) y.length)
        .isCloseTo(p, org.assertj.core.data.Offset.offset(0.015));
    // neighbours along a row and along a column are uncorrelated (|r| < 0.04, 4 sd)
    for (int stride : new int[] {1, COLS}) {
      double n = 0;
      sxy = 0;
      sx = 0;
      double sxx = 0;
      for (int i = 0; i + stride < y.length; i++) {
        double a = y[i] == 0 ? 0 : 1;
        double b = y[i + stride] == 0 ? 0 : 1;
        sxy += a * b;
        sx += a;
        sxx += a * a;
        n++;
      }
      double mean = sx / n;
      double r = (sxy / n - mean * mean) / (sxx / n - mean * mean);
      assertThat(Math.abs(r)).as("stride " + stride).isLessThan(0.04);
    }
  }

  @Test
  void aSeedGivesOneMaskAndAnotherSeedOrLayerAnother() throws Exception {
    float p = 0.5f;
    float[][] a = run(ones(), p, 11);
    float[][] again = run(ones(), p, 11);
    float[][] b = run(ones(), p, 12);
    assertThat(again[0]).containsExactly(a[0]);
    // independent masks agree on about half of the elements at p = 0.5
    assertThat(agreement(a[0], b[0])).isBetween(0.47, 0.53);
    assertThat(agreement(a[0], a[1])).isBetween(0.47, 0.53);
  }

  @Test
  void atZeroTheBranchReadsXItself() throws Exception {
    float[] x = new float[ROWS * COLS];
    java.util.Random r = new java.util.Random(3);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    assertThat(run(x, 0f, 99)[0]).containsExactly(x);
  }

  @Test
  void stepSeedsStayInRangeAndDiffer() {
    long a = Dropout.seed(0, 1, 0);
    assertThat(a).isBetween(0L, Dropout.P - 1);
    assertThat(Dropout.seed(0, 2, 0)).isNotEqualTo(a);
    assertThat(Dropout.seed(0, 1, 1)).isNotEqualTo(a);
    assertThat(Dropout.seed(1, 1, 0)).isNotEqualTo(a);
    assertThat(Dropout.seed(-5, Long.MAX_VALUE, 3)).isBetween(0L, Dropout.P - 1);
  }

  private static double agreement(float[] a, float[] b) {
    int same = 0;
    for (int i = 0; i < a.length; i++) {
      if ((a[i] == 0) == (b[i] == 0)) {
        same++;
      }
    }
    return same / (double) a.length;
  }
}
