package dev.loraort.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * One run signature of an ONNX Runtime session (its input names, types and shapes, and the outputs
 * it fetches) with every tensor bound once to fixed memory through the C API's IoBinding, which
 * ONNX Runtime's Java API lacks. On the CUDA EP the tensors live in one device block per side,
 * staged through pinned host blocks: a run is one copy in, {@code RunWithBinding} (a CUDA-graph
 * replay when the session enabled the CUDA EP's graph mode) and one copy out. On the CPU EP the
 * host blocks are the bound tensors.
 *
 * <p>Write the inputs into {@link #input}'s buffers, {@link #run}, read {@link #output}'s. The
 * buffers stay valid until {@link #close}. One thread at a time.
 */
public final class BoundRun implements AutoCloseable {
  /** ONNX element types the binding takes (TensorProto.DataType values). */
  public static final int FLOAT = 1;

  /** int32. */
  public static final int INT32 = 6;

  /** int64. */
  public static final int INT64 = 7;

  /**
   * One bound tensor.
   *
   * @param name the graph input or output name
   * @param elementType {@link #FLOAT}, {@link #INT32} or {@link #INT64}
   * @param shape its fixed shape
   */
  public record Spec(String name, int elementType, long[] shape) {}

  private static String unavailable;
  private static boolean loaded;

  private long handle;
  private final List<Spec> outputSpecs;
  private final ByteBuffer[] inputs;
  private final ByteBuffer[] outputs;

  private BoundRun(long handle, int inputCount, List<Spec> outputSpecs) {
    this.handle = handle;
    this.outputSpecs = outputSpecs;
    this.inputs = new ByteBuffer[inputCount];
    this.outputs = new ByteBuffer[outputSpecs.size()];
    for (int i = 0; i < inputCount; i++) {
      inputs[i] = input(handle, i).order(ByteOrder.nativeOrder());
    }
    for (int i = 0; i < outputs.length; i++) {
      outputs[i] = output(handle, i).order(ByteOrder.nativeOrder());
    }
  }

  /**
   * Loads the JNI half of the native library once.
   *
   * @return null if it is usable, else why not (another platform, a build without a C compiler or
   *     without the JDK's jni.h)
   */
  public static synchronized String unavailableReason() {
    if (!loaded && unavailable == null) {
      try {
        System.load(FusedKernels.library().toString());
        destroy(0); // links the JNI entry points now, not at the first run
        loaded = true;
      } catch (IllegalStateException e) {
        unavailable = e.getMessage();
      } catch (UnsatisfiedLinkError e) {
        unavailable = "the native library was built without the JDK's jni.h: " + e.getMessage();
      }
    }
    return unavailable;
  }

  /**
   * Binds a run signature of a session.
   *
   * @param session the OrtSession* of an open session
   * @param runOptions the OrtRunOptions* every run uses (kept open by the caller while this lives)
   * @param cudaDevice the GPU of the session's CUDA EP, or -1 for the CPU EP
   * @param in every graph input
   * @param out the outputs each run fetches
   * @return the binding
   * @throws IllegalStateException if the library is unavailable, or ONNX Runtime or CUDA refuses a
   *     step (the message names the tensor)
   */
  public static BoundRun create(
      long session, long runOptions, int cudaDevice, List<Spec> in, List<Spec> out) {
    String why = unavailableReason();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    long h =
        create(
            session,
            runOptions,
            cudaDevice,
            in.stream().map(Spec::name).toArray(String[]::new),
            in.stream().mapToInt(Spec::elementType).toArray(),
            in.stream().map(Spec::shape).toArray(long[][]::new),
            out.stream().map(Spec::name).toArray(String[]::new),
            out.stream().mapToInt(Spec::elementType).toArray(),
            out.stream().map(Spec::shape).toArray(long[][]::new));
    return new BoundRun(h, in.size(), List.copyOf(out));
  }

  /**
   * The GPU memory in use on a device, by every process (the CUDA driver's total minus free, what
   * nvidia-smi shows): for memory reports that split a run's footprint into its phases. The first
   * reading in a process creates the CUDA context, so it already counts it.
   *
   * @param cudaDevice the GPU index
   * @return bytes in use
   * @throws IllegalStateException if the library or the CUDA driver is unavailable
   */
  public static long deviceMemoryUsed(int cudaDevice) {
    String why = unavailableReason();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    return deviceMemoryUsedNative(cudaDevice);
  }

  /**
   * @param i the input's index in the signature
   * @return its bound host buffer (native byte order), position 0
   */
  public ByteBuffer input(int i) {
    checkOpen();
    return inputs[i].clear();
  }

  /**
   * @param i the output's index in the signature
   * @return its bound host buffer (native byte order), position 0, holding the last run's values
   */
  public ByteBuffer output(int i) {
    checkOpen();
    return outputs[i].clear();
  }

  /**
   * @param i the output's index in the signature
   * @return its shape (a copy)
   */
  public long[] outputShape(int i) {
    return outputSpecs.get(i).shape().clone();
  }

  /**
   * @param i the output's index in the signature
   * @return its element type ({@link #FLOAT}, {@link #INT32} or {@link #INT64})
   */
  public int outputType(int i) {
    return outputSpecs.get(i).elementType();
  }

  /**
   * Runs the session on the bound inputs and fills the bound outputs.
   *
   * @throws IllegalStateException with ONNX Runtime's or CUDA's message
   */
  public void run() {
    checkOpen();
    run(handle);
  }

  private void checkOpen() {
    if (handle == 0) {
      throw new IllegalStateException("the bound run is closed");
    }
  }

  /** Frees the bound memory and the binding; idempotent. */
  @Override
  public void close() {
    if (handle != 0) {
      destroy(handle);
      handle = 0;
    }
  }

  private static native long create(
      long session,
      long runOptions,
      int cudaDevice,
      String[] inputNames,
      int[] inputTypes,
      long[][] inputShapes,
      String[] outputNames,
      int[] outputTypes,
      long[][] outputShapes);

  private static native long deviceMemoryUsedNative(int device);

  private static native ByteBuffer input(long handle, int i);

  private static native ByteBuffer output(long handle, int i);

  private static native void run(long handle);

  private static native void destroy(long handle);
}
