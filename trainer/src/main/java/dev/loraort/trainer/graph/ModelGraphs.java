package dev.loraort.trainer.graph;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The sessions of one model directory, checked against its manifest when opened: every input the
 * manifest names exists with its dtype and shape, LoRA inputs are [lora_r, in] and [out, lora_r],
 * every gradient output exists, and the graph has no input the manifest does not explain.
 */
public final class ModelGraphs implements AutoCloseable {
  private static final AtomicBoolean fallbackSaid = new AtomicBoolean();
  private static final AtomicBoolean bindingFallbackSaid = new AtomicBoolean();

  private final Manifest manifest;
  private final TrainGraph train;
  private final TrainGraph rwp;
  private final LossScaler scaler;

  private ModelGraphs(Manifest manifest, TrainGraph train, TrainGraph rwp, LossScaler scaler) {
    this.manifest = manifest;
    this.train = train;
    this.rwp = rwp;
    this.scaler = scaler;
  }

  /**
   * Opens and checks the train graph, and train_rwp when asked.
   *
   * @param m the manifest
   * @param device CPU or CUDA EP
   * @param threads CPU intra-op threads (0 = ORT default)
   * @param withRwp also open train_rwp.onnx
   * @return the sessions
   * @throws GraphException if a graph is missing, fails to load or disagrees with the manifest
   */
  public static ModelGraphs open(Manifest m, ExecutionDevice device, int threads, boolean withRwp) {
    return open(m, device, threads, withRwp, null);
  }

  /**
   * Opens and checks the train graph, and train_rwp when asked, with ONNX Runtime's profiler on.
   *
   * @param m the manifest
   * @param device CPU or CUDA EP
   * @param threads CPU intra-op threads (0 = ORT default)
   * @param withRwp also open train_rwp.onnx
   * @param profilePrefix where ONNX Runtime writes each session's profile (it appends a timestamp
   *     and .json when the session closes), or null for no profiling
   * @return the sessions
   * @throws GraphException if a graph is missing, fails to load or disagrees with the manifest
   */
  public static ModelGraphs open(
      Manifest m, ExecutionDevice device, int threads, boolean withRwp, Path profilePrefix) {
    requireBaseWeights(m);
    refuseMixedPrecisionRwp(m, device, withRwp);
    GraphSession t = openTrain(m, device, threads, profilePrefix);
    try {
      GraphSession r =
          withRwp
              ? openChecked(
                  m, "train_rwp", device, threads, profilePrefix, false, ExecutionDevice.Io.COPY)
              : null;
      return new ModelGraphs(m, t, r, scaler(device));
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /**
   * Opens the train graph (and train_rwp when asked) on each device, for data-parallel training:
   * every run splits its batch between them ({@link DataParallelGraph}). One device is {@link
   * #open(Manifest, ExecutionDevice, int, boolean)}.
   *
   * @param m the manifest
   * @param devices where the sessions run, one session per entry (the same device may repeat)
   * @param threads CPU intra-op threads of each session (0 = ORT default)
   * @param withRwp also open train_rwp.onnx
   * @return the sessions
   * @throws GraphException if a graph is missing, fails to load or disagrees with the manifest, or
   *     the model's loss or inputs do not split along the batch (the message names the task or the
   *     input)
   */
  public static ModelGraphs open(
      Manifest m, List<ExecutionDevice> devices, int threads, boolean withRwp) {
    if (devices.size() == 1) {
      return open(m, devices.get(0), threads, withRwp);
    }
    if (devices.isEmpty()) {
      throw new IllegalArgumentException(m.id() + ": no device to train on");
    }
    requireBaseWeights(m);
    ExecutionDevice first = devices.get(0);
    refuseMixedPrecisionRwp(m, first, withRwp);
    DataParallelGraph t = DataParallelGraph.open(m, devices, d -> openTrain(m, d, threads, null));
    try {
      DataParallelGraph r =
          withRwp
              ? DataParallelGraph.open(
                  m,
                  devices,
                  d ->
                      openChecked(m, "train_rwp", d, threads, null, false, ExecutionDevice.Io.COPY))
              : null;
      return new ModelGraphs(m, t, r, scaler(first));
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /** fp16 needs loss scaling; bf16 has float32's exponent range and does not. */
  private static LossScaler scaler(ExecutionDevice device) {
    return device.precision() == ExecutionDevice.Precision.FP16 ? new LossScaler() : null;
  }

  private static void refuseMixedPrecisionRwp(Manifest m, ExecutionDevice device, boolean withRwp) {
    ExecutionDevice.Precision p = device.precision();
    if (p != ExecutionDevice.Precision.FP32 && withRwp) {
      throw new GraphException(
          m.id()
              + ": Flat-LoRA's train_rwp graph has no mixed-precision version; drop --"
              + p.label());
    }
  }

  /**
   * The train graph the device asks for: in its precision, the fused-kernel one (falling back to
   * the plain one under {@link ExecutionDevice.Kernels#AUTO}, said once per process) or the plain
   * one.
   */
  private static GraphSession openTrain(
      Manifest m, ExecutionDevice device, int threads, Path profilePrefix) {
    ExecutionDevice.Io io = device.trainIo();
    while (true) {
      try {
        return openTrain(m, device, threads, profilePrefix, io);
      } catch (GraphSession.BindingUnavailable e) {
        if (device.io() != ExecutionDevice.Io.AUTO) {
          throw e;
        }
        // AUTO steps down: a graph the CUDA EP cannot capture still binds; no library: copy
        io =
            io == ExecutionDevice.Io.CUDA_GRAPH
                ? ExecutionDevice.Io.BOUND
                : ExecutionDevice.Io.COPY;
        if (!bindingFallbackSaid.getAndSet(true)) {
          System.err.println(
              e.getMessage() + "; running with --io " + io.name().toLowerCase(Locale.ROOT));
        }
      }
    }
  }

  private static GraphSession openTrain(
      Manifest m, ExecutionDevice device, int threads, Path profilePrefix, ExecutionDevice.Io io) {
    ExecutionDevice.Precision p = device.precision();
    if (device.wantsFused(p.fusedRole != null && m.graph(p.fusedRole).isPresent())) {
      try {
        return openChecked(m, p.fusedRole, device, threads, profilePrefix, true, io);
      } catch (GraphSession.FusedKernelsUnavailable e) {
        if (device.kernels() == ExecutionDevice.Kernels.FUSED) {
          throw e;
        }
        if (!fallbackSaid.getAndSet(true)) {
          System.err.println(e.getMessage() + "; training through " + p.role + ".onnx instead");
        }
      }
    }
    return openChecked(m, p.role, device, threads, profilePrefix, false, io);
  }

  /**
   * Opens the infer graph, checked against the manifest's infer inputs and outputs.
   *
   * @param m the manifest
   * @param device CPU or CUDA EP
   * @param threads CPU intra-op threads
   * @return the session (the caller closes it)
   */
  public static GraphSession openInfer(Manifest m, ExecutionDevice device, int threads) {
    requireBaseWeights(m);
    return openChecked(m, "infer", device, threads, null, false, ExecutionDevice.Io.COPY);
  }

  /**
   * Opens the train graph of the device's precision cut to its loss ({@link ForwardOnly}), for runs
   * that need the loss alone: they cost the forward, not the whole step. Where the graph cannot be
   * cut, the train graph itself.
   *
   * @param m the manifest
   * @param device CPU or CUDA EP (its precision picks the graph; no fused kernels)
   * @param threads CPU intra-op threads
   * @return the session (the caller closes it): feed it what the train graph takes, ask for loss
   * @throws GraphException if the graph is missing or fails to load
   */
  public static GraphSession openLoss(Manifest m, ExecutionDevice device, int threads) {
    requireBaseWeights(m);
    String role = device.precision().role;
    Path train = m.graph(role).orElse(null);
    // a missing graph is openChecked's error to name; an uncuttable one serves whole
    Path cut = train != null && Files.exists(train) ? ForwardOnly.write(train) : null;
    if (cut == null) {
      return openChecked(m, role, device, threads, null, false, ExecutionDevice.Io.COPY);
    }
    try {
      return GraphSession.open(cut, device, threads, null, false, ExecutionDevice.Io.COPY);
    } finally {
      try {
        Files.deleteIfExists(cut); // the session has read it
      } catch (java.io.IOException e) {
        // ForwardOnly asked for its deletion at exit
      }
    }
  }

  /**
   * @return the checked train graph (the mixed-precision graph with an fp16 device), on one device
   *     or split between several
   */
  public TrainGraph train() {
    return train;
  }

  /**
   * @return the loss scaler of the mixed-precision train graph, or null in fp32
   */
  public LossScaler lossScaler() {
    return scaler;
  }

  /**
   * @return the train_rwp graph, on one device or split between several
   * @throws IllegalStateException if it was not opened
   */
  public TrainGraph rwp() {
    if (rwp == null) {
      throw new IllegalStateException(manifest.dir() + ": train_rwp was not opened");
    }
    return rwp;
  }

  /**
   * The outputs a train run fetches: loss, then the gradient of each parameter.
   *
   * @param paramNames the parameter tree's names
   * @return output names
   */
  public static List<String> trainOutputs(List<String> paramNames) {
    List<String> o = new ArrayList<>();
    o.add(TensorNames.LOSS);
    paramNames.forEach(n -> o.add(TensorNames.grad(n)));
    return o;
  }

  private static void requireBaseWeights(Manifest m) {
    m.baseWeights()
        .ifPresent(
            b -> {
              Path f = m.dir().resolve(b.file());
              if (!Files.exists(f)) {
                throw new GraphException(
                    f
                        + " not found: the graphs of "
                        + m.id()
                        + " keep their base weights there, and they"
                        + " are never committed. Write them with: lora-trainer materialize --model "
                        + m.dir()
                        + (b.origin().isEmpty() ? "" : " (from " + b.origin() + ")"));
              }
            });
  }

  private static GraphSession openChecked(
      Manifest m,
      String role,
      ExecutionDevice device,
      int threads,
      Path profilePrefix,
      boolean fusedKernels,
      ExecutionDevice.Io io) {
    Path p =
        m.graph(role)
            .orElseThrow(
                () ->
                    new GraphException(
                        m.dir().resolve(Manifest.FILE)
                            + ": graphs has no '"
                            + role
                            + "' entry"
                            + howToWrite(m, role)));
    if (!Files.exists(p)) {
      throw new GraphException(p + " not found (manifest.json names it as the " + role + " graph)");
    }
    GraphSession s = GraphSession.open(p, device, threads, profilePrefix, fusedKernels, io);
    try {
      check(m, role, s);
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private static String howToWrite(Manifest m, String role) {
    if (role.equals(ExecutionDevice.Precision.FP16.role)) {
      return m.graph(ExecutionDevice.Precision.BF16.role).isPresent()
          ? " (prepare writes bf16 graphs instead: train with --bf16)"
          : " (export the model with export_lora_graph.py --fp16)";
    }
    if (role.equals(ExecutionDevice.Precision.BF16.role)) {
      return " (lora-trainer prepare writes it: prepare the model again from its inference ONNX)";
    }
    return "";
  }

  /**
   * Checks one session against the manifest.
   *
   * @param m the manifest
   * @param role train, train_rwp or infer
   * @param s the session
   * @throws GraphException naming the graph, the tensor, what the manifest says and what was found
   */
  static void check(Manifest m, String role, GraphSession s) {
    String g = s.path().getFileName().toString();
    Map<String, TensorInfo> in = s.io(false);
    Map<String, TensorInfo> out = s.io(true);
    Set<String> explained = new LinkedHashSet<>();
    boolean infer = role.equals("infer");
    for (Manifest.IoSpec spec : infer ? m.inferInputs() : m.inputs()) {
      List<String> want = new ArrayList<>();
      for (Manifest.Dim d : spec.shape()) {
        want.add(d.toString());
      }
      expect(
          g,
          "input",
          in,
          spec.name(),
          spec.dtype(),
          spec.shape().stream().mapToLong(d -> d.symbolic() ? -1 : d.size()).toArray(),
          want.toString());
      explained.add(spec.name());
    }
    List<String> params = new ArrayList<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      String a = TensorNames.loraA(mod.name());
      String b = TensorNames.loraB(mod.name());
      expect(
          g,
          "input",
          in,
          a,
          Tensor.DType.F32,
          new long[] {-1, mod.in()},
          "[lora_r, " + mod.in() + "]");
      expect(
          g,
          "input",
          in,
          b,
          Tensor.DType.F32,
          new long[] {mod.out(), -1},
          "[" + mod.out() + ", lora_r]");
      params.add(a);
      params.add(b);
    }
    for (Manifest.TrainableSpec t : m.trainable()) {
      expect(g, "input", in, t.name(), Tensor.DType.F32, t.shape(), Arrays.toString(t.shape()));
      params.add(t.name());
    }
    expect(g, "input", in, TensorNames.LORA_SCALE, Tensor.DType.F32, new long[0], "[]");
    explained.addAll(params);
    explained.add(TensorNames.LORA_SCALE);
    if (role.equals("train_rwp")) {
      expect(g, "input", in, TensorNames.RWP_SIGMA, Tensor.DType.F32, new long[0], "[]");
      explained.add(TensorNames.RWP_SIGMA);
    }
    if (!infer && m.lora().dropout() != null) { // prepare --lora-dropout
      expect(g, "input", in, TensorNames.LORA_DROPOUT, Tensor.DType.F32, new long[0], "[]");
      expect(g, "input", in, TensorNames.LORA_DROPOUT_SEED, Tensor.DType.I64, new long[0], "[]");
      explained.add(TensorNames.LORA_DROPOUT);
      explained.add(TensorNames.LORA_DROPOUT_SEED);
    }
    if (role.equals(ExecutionDevice.Precision.FP16.role)) {
      expect(g, "input", in, LossScaler.INPUT, Tensor.DType.F32, new long[0], "[]");
      explained.add(LossScaler.INPUT);
    }
    Set<String> unknown = new LinkedHashSet<>(in.keySet());
    unknown.removeAll(explained);
    if (!unknown.isEmpty()) {
      throw new GraphException(g + ": inputs " + unknown + " are not described by manifest.json");
    }
    if (infer) {
      for (Manifest.IoSpec spec : m.inferOutputs()) {
        if (!out.containsKey(spec.name())) {
          throw new GraphException(
              g
                  + ": no output "
                  + spec.name()
                  + " (manifest.json infer_outputs); outputs: "
                  + out.keySet());
        }
      }
      return;
    }
    expect(g, "output", out, TensorNames.LOSS, Tensor.DType.F32, new long[0], "[]");
    for (String p : params) {
      TensorInfo gi = out.get(TensorNames.grad(p));
      TensorInfo pi = in.get(p);
      if (gi == null) {
        throw new GraphException(
            g
                + ": no output "
                + TensorNames.grad(p)
                + " for input "
                + p
                + "; outputs: "
                + out.keySet());
      }
      if (gi.getShape().length != pi.getShape().length) {
        throw new GraphException(
            g
                + ": output "
                + TensorNames.grad(p)
                + " has shape "
                + Arrays.toString(gi.getShape())
                + "; its input "
                + p
                + " has "
                + Arrays.toString(pi.getShape()));
      }
    }
  }

  private static void expect(
      String g,
      String kind,
      Map<String, TensorInfo> io,
      String name,
      Tensor.DType dtype,
      long[] shape,
      String manifestShape) {
    TensorInfo ti = io.get(name);
    if (ti == null) {
      throw new GraphException(
          g
              + ": no "
              + kind
              + " "
              + name
              + "; manifest.json expects it with shape "
              + manifestShape
              + ". The graph's "
              + kind
              + "s: "
              + io.keySet());
    }
    OnnxJavaType want =
        dtype == Tensor.DType.F32
            ? OnnxJavaType.FLOAT
            : dtype == Tensor.DType.I64 ? OnnxJavaType.INT64 : OnnxJavaType.INT32;
    long[] got = ti.getShape();
    boolean ok = ti.type == want && got.length == shape.length;
    for (int i = 0; ok && i < shape.length; i++) {
      ok = shape[i] < 0 ? got[i] < 0 : got[i] == shape[i];
    }
    if (!ok) {
      throw new GraphException(
          g
              + ": "
              + kind
              + " "
              + name
              + " is "
              + ti.type
              + " "
              + describe(ti)
              + "; manifest.json says "
              + dtype
              + " "
              + manifestShape);
    }
  }

  private static String describe(TensorInfo ti) {
    long[] s = ti.getShape();
    String[] names = ti.getDimensionNames();
    List<String> d = new ArrayList<>();
    for (int i = 0; i < s.length; i++) {
      d.add(
          s[i] >= 0
              ? Long.toString(s[i])
              : (names != null && i < names.length && !names[i].isEmpty() ? names[i] : "?"));
    }
    return d.toString();
  }

  /**
   * @return the manifest these graphs were checked against
   */
  public Manifest manifest() {
    return manifest;
  }

  /** Closes every session; idempotent. */
  @Override
  public void close() {
    try {
      train.close();
    } finally {
      if (rwp != null) {
        rwp.close();
      }
    }
  }

  /**
   * Feeds of a run: batch, then parameters, then extra inputs (rwp_sigma).
   *
   * @param batch batch tensors
   * @param params parameter feeds
   * @param extra method-specific feeds
   * @return one ordered map
   */
  public static Map<String, Tensor> feeds(
      Map<String, Tensor> batch, Map<String, Tensor> params, Map<String, Tensor> extra) {
    Map<String, Tensor> f = new LinkedHashMap<>(batch);
    f.putAll(params);
    f.putAll(extra);
    return f;
  }
}
