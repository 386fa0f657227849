package dev.loraort.trainer.graph;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtLoraAdapter;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.kernels.BoundRun;
import dev.loraort.kernels.FusedKernels;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One ONNX Runtime session over one graph file. Owns its session options, session and the native
 * feed buffers it reuses across runs; every ONNX Runtime value lives only inside {@link #run}. One
 * thread at a time: runs share the feed buffers. Close it once; a second close is a no-op.
 *
 * <p>With {@link ExecutionDevice.Io#BOUND} or {@link ExecutionDevice.Io#CUDA_GRAPH}, the first run
 * of each signature (input names, types and shapes; the outputs fetched) goes through the Java API
 * and tells the output shapes; the signature is then bound ({@link BoundRun}) and its later runs go
 * through the binding: under CUDA_GRAPH, each bound signature is its own captured CUDA graph (run
 * config {@value #GRAPH_ID}), and every unbound run says {@code -1} so that it is never replaced by
 * a replay.
 */
public final class GraphSession implements TrainGraph {
  private final Path path;
  private final OrtEnvironment env;
  private final OrtSession.SessionOptions options;
  private final OrtSession session;
  private final boolean profiling;
  private boolean closed;
  private long copyNanos;
  private final Map<String, ByteBuffer> feedBuffers = new HashMap<>();

  /** The CUDA EP's run config key that names the captured graph a run replays; -1: none. */
  static final String GRAPH_ID = "gpu_graph_id";

  /** Bound signatures per session: a train step has one, a two-pass method at most two. */
  private static final int MAX_BOUND = 4;

  private final ExecutionDevice.Io io;
  private final int cudaDevice;
  private final boolean dropoutInputs;
  private final Map<String, Bound> bound = new HashMap<>();
  private final OrtSession.RunOptions unboundOptions;

  private GraphSession(
      Path path,
      OrtEnvironment env,
      OrtSession.SessionOptions options,
      OrtSession session,
      boolean profiling,
      ExecutionDevice.Io io,
      int cudaDevice)
      throws OrtException {
    this.path = path;
    this.env = env;
    this.options = options;
    this.session = session;
    this.profiling = profiling;
    this.io = io;
    this.cudaDevice = cudaDevice;
    this.dropoutInputs = session.getInputNames().contains(TensorNames.LORA_DROPOUT);
    if (io == ExecutionDevice.Io.CUDA_GRAPH) {
      unboundOptions = new OrtSession.RunOptions();
      unboundOptions.addRunConfigEntry(GRAPH_ID, "-1");
    } else {
      unboundOptions = null;
    }
  }

  /** A bound signature: its binding, the run options that name its graph, its tensor order. */
  private record Bound(
      BoundRun run, OrtSession.RunOptions options, List<String> inputs, List<String> outputs) {}

  /**
   * Opens a session.
   *
   * @param path the graph file
   * @param device CPU or CUDA EP
   * @param threads intra-op threads of the CPU EP (0: ONNX Runtime's default)
   * @return the session
   * @throws GraphException if the graph cannot be loaded or the CUDA EP is unavailable; the message
   *     names the file
   */
  public static GraphSession open(Path path, ExecutionDevice device, int threads) {
    return open(path, device, threads, null);
  }

  /**
   * Opens a session, with ONNX Runtime's profiler on when {@code profilePrefix} is set.
   *
   * @param path the graph file
   * @param device CPU or CUDA EP
   * @param threads intra-op threads of the CPU EP (0: ONNX Runtime's default)
   * @param profilePrefix where ONNX Runtime writes the profile (it appends a timestamp and .json
   *     when the session closes; the optimized graph it ran goes beside it, named after the prefix
   *     and the graph file), or null for no profiling
   * @return the session
   * @throws GraphException if the graph cannot be loaded or the CUDA EP is unavailable; the message
   *     names the file
   */
  public static GraphSession open(
      Path path, ExecutionDevice device, int threads, Path profilePrefix) {
    return open(path, device, threads, profilePrefix, false);
  }

  /**
   * Opens a session, registering the fused-kernel library first when the graph uses its ops.
   *
   * @param path the graph file
   * @param device CPU or CUDA EP
   * @param threads intra-op threads of the CPU EP (0: ONNX Runtime's default)
   * @param profilePrefix ONNX Runtime's profile prefix, or null for no profiling
   * @param fusedKernels register the dev.loraort kernels for the device
   * @return the session
   * @throws GraphException if the graph cannot be loaded, the CUDA EP is unavailable, or the fused
   *     kernels cannot be registered ({@link FusedKernelsUnavailable}); the message names the file
   */
  public static GraphSession open(
      Path path, ExecutionDevice device, int threads, Path profilePrefix, boolean fusedKernels) {
    return open(path, device, threads, profilePrefix, fusedKernels, ExecutionDevice.Io.COPY);
  }

  /**
   * Opens a session whose runs reach the device as {@code io} says.
   *
   * @param path the graph file
   * @param device CPU or CUDA EP
   * @param threads intra-op threads of the CPU EP (0: ONNX Runtime's default)
   * @param profilePrefix ONNX Runtime's profile prefix, or null for no profiling
   * @param fusedKernels register the dev.loraort kernels for the device
   * @param io COPY, BOUND or CUDA_GRAPH (not AUTO: the caller resolves it)
   * @return the session
   * @throws GraphException if the graph cannot be loaded, the CUDA EP is unavailable, the fused
   *     kernels cannot be registered ({@link FusedKernelsUnavailable}), or the binding library is
   *     unavailable or the graph cannot be captured ({@link BindingUnavailable}); the message names
   *     the file
   */
  public static GraphSession open(
      Path path,
      ExecutionDevice device,
      int threads,
      Path profilePrefix,
      boolean fusedKernels,
      ExecutionDevice.Io io) {
    if (io == ExecutionDevice.Io.AUTO) {
      throw new IllegalArgumentException("resolve Io.AUTO before opening " + path);
    }
    if (io != ExecutionDevice.Io.COPY) {
      String why = BoundRun.unavailableReason();
      if (why != null) {
        throw new BindingUnavailable(
            path
                + ": --io "
                + io.name().toLowerCase(java.util.Locale.ROOT)
                + " is unavailable: "
                + why,
            null);
      }
    }
    OrtEnvironment env = environment();
    OrtSession.SessionOptions so = new OrtSession.SessionOptions();
    try {
      so.setIntraOpNumThreads(threads);
      if (profilePrefix != null) {
        so.enableProfiling(profilePrefix.toString());
        // the profile names the nodes of the graph ONNX Runtime optimized, not of the file:
        // save that graph beside it (weights in a file of their own) so the two can be read
        // together
        String ran = profilePrefix.getFileName() + "." + path.getFileName();
        so.setOptimizedModelFilePath(profilePrefix.resolveSibling(ran).toString());
        so.addConfigEntry(
            "session.optimized_model_external_initializers_file_name", ran + ".weights");
        so.addConfigEntry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "1024");
      }
      // ORT warns per node (ScatterND, CPU-placed shape ops) on every CUDA session: noise for users
      so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (device.cuda()) {
        try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(device.deviceId())) {
          cuda.add("use_tf32", device.tf32() ? "1" : "0");
          // grow the arena by what is asked, not to the next power of two: the default more
          // than doubled the memory held at real sizes (17 GB for a 5.7 GB PyTorch step)
          cuda.add("arena_extend_strategy", "kSameAsRequested");
          if (io == ExecutionDevice.Io.CUDA_GRAPH) {
            cuda.add("enable_cuda_graph", "1");
          }
          for (Map.Entry<String, String> o : device.cudaOptions().entrySet()) {
            cuda.add(o.getKey(), o.getValue());
          }
          so.addCUDA(cuda);
          // the memory pattern (one block per run, planned from the first run) held 11.95 GB on
          // roberta-large 32 x 128 against 7.0 GB without it, at the same step time (70 ms)
          so.setMemoryPatternOptimization(false);
        } catch (OrtException | UnsatisfiedLinkError e) {
          throw new GraphException(
              "the CUDA execution provider could not be loaded for "
                  + path
                  + " on "
                  + device
                  + ": "
                  + e.getMessage()
                  + (device.cudaOptions().isEmpty()
                      ? ""
                      : ". Check --cuda-option "
                          + device.cudaOptions()
                          + ": ONNX Runtime's CUDA EP takes its own option names and values")
                  + ". It needs the onnxruntime_gpu natives with CUDA 12 (cuBLAS, cudart) and"
                  + " cuDNN 9 on the library path, and an NVIDIA GPU; use --device cpu otherwise",
              e);
        }
      }
      if (fusedKernels) {
        registerFusedKernels(so, path, device);
      }
      OrtSession s;
      try {
        s = env.createSession(path.toString(), so);
      } catch (OrtException e) {
        if (io == ExecutionDevice.Io.CUDA_GRAPH) {
          throw new BindingUnavailable(
              path + ": the CUDA EP cannot capture this graph: " + e.getMessage(), e);
        }
        throw e;
      }
      try {
        return new GraphSession(
            path, env, so, s, profilePrefix != null, io, device.cuda() ? device.deviceId() : -1);
      } catch (OrtException e) {
        s.close();
        throw e;
      }
    } catch (OrtException e) {
      so.close();
      throw new GraphException(
          path + ": ONNX Runtime could not load the graph: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      so.close();
      throw e;
    }
  }

  private static void registerFusedKernels(
      OrtSession.SessionOptions so, Path path, ExecutionDevice device) {
    try {
      Path lib = FusedKernels.library();
      so.addConfigEntry(FusedKernels.CONFIG_EP, device.cuda() ? "cuda" : "cpu");
      so.addConfigEntry(FusedKernels.CONFIG_DEVICE, Integer.toString(device.deviceId()));
      so.registerCustomOpLibrary(lib.toString());
    } catch (IllegalStateException | OrtException e) {
      throw new FusedKernelsUnavailable(
          path
              + " needs the fused kernels, which are unavailable on "
              + device
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** The fused-kernel library could not be registered: the plain graph still works. */
  public static final class FusedKernelsUnavailable extends GraphException {
    private static final long serialVersionUID = 1L;

    FusedKernelsUnavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The binding library is missing or the CUDA EP cannot capture the graph: COPY still works. */
  public static final class BindingUnavailable extends GraphException {
    private static final long serialVersionUID = 1L;

    BindingUnavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The process's ONNX Runtime environment, created at ERROR logging: at WARNING, kernels log notes
   * a user cannot act on (the CUDA ScatterND kernel: 32 lines for the tiny Qwen2-VL graph's
   * session). Errors still show.
   *
   * @return the shared environment
   */
  public static OrtEnvironment environment() {
    return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "lora-trainer");
  }

  @Override
  public Path path() {
    return path;
  }

  /**
   * The graph's inputs or outputs: name -> (dtype, shape with -1 for symbolic dims, dim names).
   *
   * @param outputs true for outputs
   * @return tensor infos by name, in graph order
   */
  @Override
  public Map<String, TensorInfo> io(boolean outputs) {
    checkClosed();
    try {
      Map<String, NodeInfo> m = outputs ? session.getOutputInfo() : session.getInputInfo();
      Map<String, TensorInfo> r = new LinkedHashMap<>();
      for (Map.Entry<String, NodeInfo> e : m.entrySet()) {
        if (!(e.getValue().getInfo() instanceof TensorInfo)) {
          throw new GraphException(
              path + ": " + (outputs ? "output " : "input ") + e.getKey() + " is not a tensor");
        }
        r.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
      }
      return r;
    } catch (OrtException e) {
      throw new GraphException(path + ": " + e.getMessage(), e);
    }
  }

  /**
   * Runs the graph once and copies the requested outputs to host tensors.
   *
   * @param feeds every graph input by name
   * @param outputs the outputs to fetch
   * @return the outputs by name, in the order requested
   * @throws GraphException if ONNX Runtime rejects the feeds or fails; the message names the file
   */
  @Override
  public Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> outputs) {
    checkClosed();
    feeds = withDropoutOff(feeds);
    try {
      if (io == ExecutionDevice.Io.COPY) {
        return runWith(feeds, outputs, null);
      }
      String key = signature(feeds, outputs);
      Bound b = bound.get(key);
      if (b != null) {
        return runBound(b, feeds);
      }
      Map<String, Tensor> out = runWith(feeds, outputs, unboundOptions);
      if (bound.size() < MAX_BOUND) {
        bound.put(key, bind(feeds, out, bound.size()));
      }
      return out;
    } catch (OrtException e) {
      throw new GraphException(path + ": run failed: " + e.getMessage(), e);
    } catch (IllegalStateException e) {
      throw new GraphException(path + ": bound run failed: " + e.getMessage(), e);
    }
  }

  /**
   * A graph prepared with LoRA dropout takes its probability and seed on every run; a caller that
   * does not train with dropout (a check, an evaluation, a method's extra pass) gets it off.
   */
  private Map<String, Tensor> withDropoutOff(Map<String, Tensor> feeds) {
    if (!dropoutInputs || feeds.containsKey(TensorNames.LORA_DROPOUT)) {
      return feeds;
    }
    Map<String, Tensor> f = new LinkedHashMap<>(feeds);
    f.put(TensorNames.LORA_DROPOUT, Tensor.scalar(0f));
    f.put(TensorNames.LORA_DROPOUT_SEED, Tensor.ofLongs(new long[0], new long[] {0}));
    return f;
  }

  /**
   * @return how many run signatures are bound (0 under COPY)
   */
  int boundSignatures() {
    return bound.size();
  }

  private static String signature(Map<String, Tensor> feeds, List<String> outputs) {
    StringBuilder k = new StringBuilder();
    feeds.forEach(
        (n, t) ->
            k.append(n)
                .append(':')
                .append(t.dtype())
                .append(java.util.Arrays.toString(t.shape()))
                .append(';'));
    return k.append("->").append(outputs).toString();
  }

  /** Binds a signature from its first run's feeds and outputs. */
  private Bound bind(Map<String, Tensor> feeds, Map<String, Tensor> outs, int graphId)
      throws OrtException {
    List<BoundRun.Spec> in = new ArrayList<>();
    feeds.forEach((n, t) -> in.add(new BoundRun.Spec(n, t.dtype().onnxCode, t.shape())));
    List<BoundRun.Spec> out = new ArrayList<>();
    outs.forEach((n, t) -> out.add(new BoundRun.Spec(n, t.dtype().onnxCode, t.shape())));
    OrtSession.RunOptions ro = new OrtSession.RunOptions();
    try {
      if (io == ExecutionDevice.Io.CUDA_GRAPH) {
        ro.addRunConfigEntry(GRAPH_ID, Integer.toString(graphId));
      }
      BoundRun r =
          BoundRun.create(
              nativeHandle(session), nativeHandle(ro), cudaDevice, List.copyOf(in), out);
      return new Bound(r, ro, List.copyOf(feeds.keySet()), List.copyOf(outs.keySet()));
    } catch (RuntimeException e) {
      ro.close();
      throw e;
    }
  }

  private Map<String, Tensor> runBound(Bound b, Map<String, Tensor> feeds) {
    long c0 = System.nanoTime();
    for (int i = 0; i < b.inputs().size(); i++) {
      Tensor t = feeds.get(b.inputs().get(i));
      ByteBuffer buf = b.run().input(i);
      switch (t.dtype()) {
        case F32 -> buf.asFloatBuffer().put(t.floats());
        case I64 -> buf.asLongBuffer().put(t.longs());
        default -> buf.asIntBuffer().put(t.ints());
      }
    }
    copyNanos += System.nanoTime() - c0;
    b.run().run();
    long c1 = System.nanoTime();
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < b.outputs().size(); i++) {
      ByteBuffer buf = b.run().output(i);
      String name = b.outputs().get(i);
      long[] shape = b.run().outputShape(i);
      if (b.run().outputType(i) == BoundRun.FLOAT) {
        float[] a = new float[buf.remaining() / Float.BYTES];
        buf.asFloatBuffer().get(a);
        out.put(name, Tensor.ofFloats(shape, a));
      } else {
        long[] a = new long[buf.remaining() / Long.BYTES];
        buf.asLongBuffer().get(a);
        out.put(name, Tensor.ofLongs(shape, a));
      }
    }
    copyNanos += System.nanoTime() - c1;
    return out;
  }

  /**
   * The native pointer behind an ONNX Runtime Java object: the Java API keeps it in a private field
   * (sessions) or a package-private getter (run options) and offers no IoBinding.
   */
  private long nativeHandle(Object ortObject) {
    try {
      if (ortObject instanceof OrtSession) {
        Field f = OrtSession.class.getDeclaredField("nativeHandle");
        f.setAccessible(true);
        return f.getLong(ortObject);
      }
      Method m = ortObject.getClass().getDeclaredMethod("getNativeHandle");
      m.setAccessible(true);
      return (long) m.invoke(ortObject);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new BindingUnavailable(
          path
              + ": this ONNX Runtime Java API keeps its native handles elsewhere ("
              + e
              + "); use --io copy",
          e);
    }
  }

  /**
   * @return nanoseconds that the runs have spent, since the session opened, copying feeds into ONNX
   *     Runtime tensors and outputs back to Java arrays (host time inside a run)
   */
  @Override
  public long copyNanos() {
    return copyNanos;
  }

  /**
   * Runs the graph with an ONNX Runtime adapter file active: its parameters are fed by name in
   * addition to {@code feeds} (OrtLoraAdapter + RunOptions.addActiveLoraAdapter).
   *
   * @param feeds the inputs the adapter does not hold (the batch)
   * @param outputs the outputs to fetch
   * @param adapter an .onnx_adapter file
   * @return the outputs by name
   * @throws GraphException if ONNX Runtime rejects the adapter or the run; the message names both
   *     files
   */
  public Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> outputs, Path adapter) {
    checkClosed();
    try (OrtLoraAdapter lora = OrtLoraAdapter.create(adapter.toAbsolutePath().toString());
        OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
      ro.addActiveLoraAdapter(lora);
      return runWith(feeds, outputs, ro);
    } catch (OrtException e) {
      throw new GraphException(path + " with adapter " + adapter + ": " + e.getMessage(), e);
    }
  }

  /** Both runs: feeds in, one session run (with {@code ro} unless null), outputs out, timed. */
  private Map<String, Tensor> runWith(
      Map<String, Tensor> feeds, List<String> outputs, OrtSession.RunOptions ro)
      throws OrtException {
    Map<String, OnnxTensor> in = new LinkedHashMap<>();
    try {
      long c0 = System.nanoTime();
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
        in.put(e.getKey(), toOrt(e.getKey(), e.getValue()));
      }
      copyNanos += System.nanoTime() - c0;
      try (OrtSession.Result r =
          ro == null
              ? session.run(in, Set.copyOf(outputs))
              : session.run(in, Set.copyOf(outputs), ro)) {
        long c1 = System.nanoTime();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : outputs) {
          OnnxValue v =
              r.get(name).orElseThrow(() -> new GraphException(path + ": no output " + name));
          out.put(name, toHost(name, (OnnxTensor) v));
        }
        copyNanos += System.nanoTime() - c1;
        return out;
      }
    } finally {
      in.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * A tensor over this session's native buffer for {@code name}, filled from {@code t}. The buffers
   * live as long as the session and are reused on every run: a fresh direct buffer per feed and run
   * (what ONNX Runtime does for a heap array) costs an allocation, zeroing and page faults, several
   * times the copy itself at real-size parameter counts.
   */
  private OnnxTensor toOrt(String name, Tensor t) throws OrtException {
    int bytes = t.size() * t.dtype().size;
    ByteBuffer b = feedBuffers.get(name);
    if (b == null || b.capacity() != bytes) {
      b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
      feedBuffers.put(name, b);
    }
    b.clear();
    switch (t.dtype()) {
      case F32:
        {
          FloatBuffer f = b.asFloatBuffer().put(t.floats());
          return OnnxTensor.createTensor(env, f.flip(), t.shape());
        }
      case I64:
        {
          LongBuffer l = b.asLongBuffer().put(t.longs());
          return OnnxTensor.createTensor(env, l.flip(), t.shape());
        }
      default:
        {
          IntBuffer i = b.asIntBuffer().put(t.ints());
          return OnnxTensor.createTensor(env, i.flip(), t.shape());
        }
    }
  }

  private Tensor toHost(String name, OnnxTensor v) {
    TensorInfo info = v.getInfo();
    long[] shape = info.getShape();
    switch (info.type) {
      case FLOAT:
        {
          FloatBuffer b = v.getFloatBuffer(); // already a fresh heap copy: take its array
          if (b.hasArray() && b.arrayOffset() == 0 && b.array().length == b.remaining()) {
            return Tensor.ofFloats(shape, b.array());
          }
          float[] a = new float[b.remaining()];
          b.get(a);
          return Tensor.ofFloats(shape, a);
        }
      case INT64:
        {
          LongBuffer b = v.getLongBuffer();
          long[] a = new long[b.remaining()];
          b.get(a);
          return Tensor.ofLongs(shape, a);
        }
      default:
        throw new GraphException(
            path + ": output " + name + " has type " + info.type + "; expected float32 or int64");
    }
  }

  private void checkClosed() {
    if (closed) {
      throw new IllegalStateException("session for " + path + " is closed");
    }
  }

  /** Closes the session and its options; idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<String> errors = new ArrayList<>();
    for (Bound b : bound.values()) {
      b.run().close();
      b.options().close();
    }
    if (unboundOptions != null) {
      unboundOptions.close();
    }
    if (profiling) {
      try {
        session.endProfiling();
      } catch (OrtException e) {
        errors.add("writing the profile: " + e.getMessage());
      }
    }
    try {
      session.close();
    } catch (OrtException e) {
      errors.add(e.getMessage());
    }
    options.close();
    if (!errors.isEmpty()) {
      throw new GraphException(path + ": closing the session failed: " + errors);
    }
  }
}
