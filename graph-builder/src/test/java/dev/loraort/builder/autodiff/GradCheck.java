package dev.loraort.builder.autodiff;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Checks gradient rules against central finite differences: builds {@code loss = sum(w * f(x...))}
 * (w random, fixed) in an ONNX graph, differentiates it with {@link Backward}, runs it on ONNX
 * Runtime's CPU EP, and compares, per differentiated input, the directional derivative along a
 * random direction with (L(x + h d) - L(x - h d)) / 2h. In float64 unless a test asks for float32
 * (ops without float64 kernels in ONNX Runtime).
 */
final class GradCheck {
  /** One graph input: its name, runtime shape, declared dims (symbolic where a test wants). */
  record Input(String name, long[] shape, List<Dim> declared, double lo, double hi) {}

  private final List<Input> inputs = new ArrayList<>();
  private final List<String> wrt = new ArrayList<>();
  private final Map<String, long[]> intInputs = new LinkedHashMap<>();
  private final Map<String, long[]> intValues = new LinkedHashMap<>();
  private int opset = 18;
  private int elem = DataType.DOUBLE_VALUE;
  private long seed = 1;
  private double gradScale = 1;
  private boolean fused;
  private boolean recomputeAttention;
  private int recomputed;

  static GradCheck create() {
    return new GradCheck();
  }

  /** A float input, differentiated, values uniform in [-1, 1]. */
  GradCheck in(String name, long... shape) {
    return inRange(name, -1, 1, shape);
  }

  /** A float input, differentiated, values uniform in [lo, hi]. */
  GradCheck inRange(String name, double lo, double hi, long... shape) {
    List<Dim> d = new ArrayList<>();
    for (long s : shape) {
      d.add(Dim.of(s));
    }
    inputs.add(new Input(name, shape, d, lo, hi));
    wrt.add(name);
    return this;
  }

  /** A float input declared with symbolic dims (null entries: fixed). */
  GradCheck symbolic(String name, long[] shape, String... symbols) {
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < shape.length; i++) {
      d.add(symbols[i] == null ? Dim.of(shape[i]) : Dim.sym(symbols[i]));
    }
    inputs.add(new Input(name, shape, d, -1, 1));
    wrt.add(name);
    return this;
  }

  /** An int64 graph input with given values (indices, labels). */
  GradCheck ints(String name, long[] shape, long... values) {
    intInputs.put(name, shape);
    intValues.put(name, values);
    return this;
  }

  GradCheck opset(int v) {
    opset = v;
    return this;
  }

  GradCheck float32() {
    elem = DataType.FLOAT_VALUE;
    return this;
  }

  /** Multiplies the analytic gradients before comparing: shows the check sees a wrong rule. */
  GradCheck scaleGradients(double s) {
    gradScale = s;
    return this;
  }

  GradCheck seed(long s) {
    seed = s;
    return this;
  }

  /** Differentiates with the fused kernels' rules and runs with their library registered. */
  GradCheck fused() {
    fused = true;
    return this;
  }

  /** Recomputes attention's probabilities in the backward ({@link AttentionRecompute}). */
  GradCheck recomputeAttention() {
    recomputeAttention = true;
    return this;
  }

  /** How many softmaxes the last check's backward recomputed. */
  int recomputed() {
    return recomputed;
  }

  /**
   * The gradients at the seeded starting point, through the plain and through the fused rules.
   *
   * @param f the function under test
   * @return the worst |fused - plain| over the largest |plain|, over every gradient
   */
  double fusedVsPlain(Function<Emitter, String> f) throws IOException, OrtException {
    fused = false;
    List<double[]> plain = new ArrayList<>(run(f, false).values());
    fused = true;
    List<double[]> withKernels = new ArrayList<>(run(f, false).values());
    double worst = 0;
    for (int k = 1; k < plain.size(); k++) { // 0 is the loss
      double max = 0;
      double err = 0;
      for (int j = 0; j < plain.get(k).length; j++) {
        max = Math.max(max, Math.abs(plain.get(k)[j]));
        err = Math.max(err, Math.abs(plain.get(k)[j] - withKernels.get(k)[j]));
      }
      worst = Math.max(worst, err / Math.max(max, 1e-30));
    }
    return worst;
  }

  /**
   * Builds f, differentiates, runs and returns the worst relative error over the inputs.
   *
   * @param f the function under test, emitted through the emitter; returns its output value
   * @return the worst |fd - analytic| / max(|fd|, |analytic|, 1e-3)
   */
  double check(Function<Emitter, String> f) throws IOException, OrtException {
    return run(f, true).get("worst")[0];
  }

  /**
   * Builds f, differentiates and runs: the loss and gradients at the seeded start, and with {@code
   * finiteDifferences}, the worst error against them (key "worst").
   */
  private Map<String, double[]> run(Function<Emitter, String> f, boolean finiteDifferences)
      throws IOException, OrtException {
    List<dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto> ins = new ArrayList<>();
    for (Input i : inputs) {
      ins.add(new ValueType(elem, i.declared()).toValueInfo(i.name()));
    }
    for (Map.Entry<String, long[]> e : intInputs.entrySet()) {
      List<Dim> d = new ArrayList<>();
      for (long s : e.getValue()) {
        d.add(Dim.of(s));
      }
      ins.add(new ValueType(DataType.INT64_VALUE, d).toValueInfo(e.getKey()));
    }
    Graph g = new Graph("gradcheck", opset, List.of(), Map.of(), ins, List.of());
    Emitter e = new Emitter(g, "f");
    String y = f.apply(e);
    Random rnd = new Random(seed);
    // fixed weights of y's runtime shape: w_k = 1.7 sin(1.3 k + 0.4), so symbolic shapes work too
    String shape = e.op("Shape", y);
    String size = e.op("ReduceProd", List.of(shape), Attr.i("keepdims", 0));
    String idx =
        e.op("Cast", List.of(e.op("Range", e.int64(0), size, e.int64(1))), Attr.i("to", elem));
    String w =
        e.mul(
            e.op("Sin", e.add(e.mul(idx, e.scalar(1.3, elem)), e.scalar(0.4, elem))),
            e.scalar(1.7, elem));
    String loss = e.op("ReduceSum", List.of(e.mul(y, e.reshape(w, shape))), Attr.i("keepdims", 0));
    Shapes shapes = Shapes.infer(g);
    Map<String, String> grads = Backward.build(g, shapes, loss, wrt, java.util.Set.of(), fused);
    recomputed = recomputeAttention ? AttentionRecompute.apply(g) : 0;
    g.outputs().add(shapes.type(loss).toValueInfo(loss));
    List<String> gradOut = new ArrayList<>();
    for (String x : wrt) {
      String gname = grads.get(x);
      String out = "grad." + x;
      g.add(
          new dev.loraort.builder.ir.Node(
              "Identity", "", "", List.of(gname), List.of(out), Map.of()));
      g.outputs().add(new ValueType(elem, null).toValueInfo(out));
      gradOut.add(out);
    }
    g.sortTopologically();
    Path model = LibraryGraph.write(g);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setIntraOpNumThreads(1);
      if (fused) {
        so.addConfigEntry(FusedKernels.CONFIG_EP, "cpu");
        so.registerCustomOpLibrary(FusedKernels.library().toString());
      }
      try (OrtSession s = env.createSession(model.toString(), so)) {
        Map<String, double[]> x0 = new LinkedHashMap<>();
        for (Input i : inputs) {
          int n = (int) java.util.Arrays.stream(i.shape()).reduce(1, (a, b) -> a * b);
          double[] v = new double[n];
          for (int k = 0; k < n; k++) {
            v[k] = i.lo() + (i.hi() - i.lo()) * rnd.nextDouble();
          }
          x0.put(i.name(), v);
        }
        Map<String, double[]> at = run(env, s, x0);
        if (!finiteDifferences) {
          return at;
        }
        double worst = 0;
        double h = elem == DataType.DOUBLE_VALUE ? 1e-6 : 1e-2;
        for (int k = 0; k < inputs.size(); k++) {
          Input i = inputs.get(k);
          double[] d = new double[x0.get(i.name()).length];
          for (int j = 0; j < d.length; j++) {
            d[j] = rnd.nextGaussian();
          }
          double analytic = 0;
          double[] gi = at.get(gradOut.get(k));
          if (gi.length != d.length) {
            throw new AssertionError(
                "grad." + i.name() + " has " + gi.length + " elements, the input " + d.length);
          }
          for (int j = 0; j < d.length; j++) {
            analytic += gradScale * gi[j] * d[j];
          }
          double fd =
              (loss(env, s, x0, i.name(), d, h) - loss(env, s, x0, i.name(), d, -h)) / (2 * h);
          double rel =
              Math.abs(fd - analytic) / Math.max(Math.max(Math.abs(fd), Math.abs(analytic)), 1e-3);
          worst = Math.max(worst, rel);
        }
        return Map.of("worst", new double[] {worst});
      }
    } finally {
      for (Path p : List.of(model, model.resolveSibling("w.bin"), model.getParent())) {
        Files.deleteIfExists(p);
      }
    }
  }

  private double loss(
      OrtEnvironment env, OrtSession s, Map<String, double[]> x0, String name, double[] d, double h)
      throws OrtException {
    Map<String, double[]> x = new LinkedHashMap<>(x0);
    double[] v = x0.get(name).clone();
    for (int j = 0; j < v.length; j++) {
      v[j] += h * d[j];
    }
    x.put(name, v);
    return run(env, s, x).values().iterator().next()[0];
  }

  private Map<String, double[]> run(OrtEnvironment env, OrtSession s, Map<String, double[]> x)
      throws OrtException {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      for (Input i : inputs) {
        double[] v = x.get(i.name());
        if (elem == DataType.DOUBLE_VALUE) {
          feeds.put(i.name(), OnnxTensor.createTensor(env, DoubleBuffer.wrap(v), i.shape()));
        } else {
          float[] f = new float[v.length];
          for (int k = 0; k < v.length; k++) {
            f[k] = (float) v[k];
          }
          feeds.put(i.name(), OnnxTensor.createTensor(env, FloatBuffer.wrap(f), i.shape()));
        }
      }
      for (Map.Entry<String, long[]> e : intInputs.entrySet()) {
        feeds.put(
            e.getKey(),
            OnnxTensor.createTensor(
                env, java.nio.LongBuffer.wrap(intValues.get(e.getKey())), e.getValue()));
      }
      Map<String, double[]> out = new LinkedHashMap<>();
      try (OrtSession.Result r = s.run(feeds)) {
        for (Map.Entry<String, OnnxValue> e : r) {
          OnnxTensor t = (OnnxTensor) e.getValue();
          ByteBuffer b = t.getByteBuffer().order(ByteOrder.nativeOrder());
          int n = (int) t.getInfo().getNumElements();
          double[] v = new double[n];
          for (int k = 0; k < n; k++) {
            v[k] = elem == DataType.DOUBLE_VALUE ? b.getDouble() : b.getFloat();
          }
          out.put(e.getKey(), v);
        }
      }
      return out;
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }
}
