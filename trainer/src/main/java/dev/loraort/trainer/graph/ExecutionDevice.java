package dev.loraort.trainer.graph;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where graphs run: the CPU execution provider, or the CUDA EP on one GPU.
 *
 * @param cuda true for the CUDA execution provider
 * @param deviceId the GPU index (0 for CPU)
 * @param tf32 CUDA only: let cuBLAS use TF32 for fp32 matrix products (the CUDA EP's default)
 * @param fp16 CUDA only: train through the mixed-precision graph (fp16 compute, fp32 LoRA weights,
 *     dynamic loss scaling)
 * @param kernels whether to train through the fused-kernel graph (train_fused)
 * @param io how the train graph's inputs and outputs reach the device
 * @param cudaOptions CUDA only: ONNX Runtime CUDA EP provider options (as its Python API's
 *     provider_options take them, e.g. gpu_mem_limit), applied after the trainer's own
 */
public record ExecutionDevice(
    boolean cuda,
    int deviceId,
    boolean tf32,
    boolean fp16,
    Kernels kernels,
    Io io,
    Map<String, String> cudaOptions) {
  /** The CPU execution provider. */
  public static final ExecutionDevice CPU =
      new ExecutionDevice(false, 0, false, false, Kernels.AUTO, Io.AUTO, Map.of());

  /** Which train graph a model directory with a train_fused graph trains through. */
  public enum Kernels {
    /** train_fused on CUDA when the fused-kernel library loads (else train, said once) */
    AUTO,
    /** always train.onnx: standard ai.onnx ops only */
    PLAIN,
    /** train_fused on any device; an error if the library cannot be registered */
    FUSED
  }

  /** How the train graph's inputs and outputs reach the execution provider. */
  public enum Io {
    /** CUDA_GRAPH on CUDA (BOUND where the graph cannot be captured, said once), COPY on CPU */
    AUTO,
    /** ONNX Runtime's Java API: every run copies each input in and each output out */
    COPY,
    /** bound once to fixed memory (IoBinding): one copy in and one out per run */
    BOUND,
    /** BOUND, and the CUDA EP captures the run as a CUDA graph and replays it (CUDA only) */
    CUDA_GRAPH
  }

  /**
   * Validates the device id; fp16, CUDA graphs and CUDA options need CUDA (the CPU EP lacks most
   * fp16 kernels); keeps the options sorted.
   */
  public ExecutionDevice {
    cudaOptions = Collections.unmodifiableMap(new TreeMap<>(cudaOptions));
    if (!cuda && !cudaOptions.isEmpty()) {
      throw new IllegalArgumentException(
          "--cuda-option " + cudaOptions.keySet() + " needs --device cuda");
    }
    if (deviceId < 0) {
      throw new IllegalArgumentException("device id must be >= 0, got " + deviceId);
    }
    if (fp16 && !cuda) {
      throw new IllegalArgumentException("--fp16 needs --device cuda");
    }
    if (io == Io.CUDA_GRAPH && !cuda) {
      throw new IllegalArgumentException("--io cuda-graph needs --device cuda");
    }
  }

  /**
   * @param on train in mixed precision
   * @return this device with that setting
   */
  public ExecutionDevice withFp16(boolean on) {
    return new ExecutionDevice(cuda, deviceId, tf32, on, kernels, io, cudaOptions);
  }

  /**
   * @param k the kernel choice
   * @return this device with it
   */
  public ExecutionDevice withKernels(Kernels k) {
    return new ExecutionDevice(cuda, deviceId, tf32, fp16, k, io, cudaOptions);
  }

  /**
   * @param how the input/output choice
   * @return this device with it
   */
  public ExecutionDevice withIo(Io how) {
    return new ExecutionDevice(cuda, deviceId, tf32, fp16, kernels, how, cudaOptions);
  }

  /**
   * @param on let cuBLAS use TF32
   * @return this device with that setting
   */
  public ExecutionDevice withTf32(boolean on) {
    return new ExecutionDevice(cuda, deviceId, on, fp16, kernels, io, cudaOptions);
  }

  /**
   * @param options CUDA EP provider options
   * @return this device with them (replacing any it had)
   */
  public ExecutionDevice withCudaOptions(Map<String, String> options) {
    return new ExecutionDevice(cuda, deviceId, tf32, fp16, kernels, io, options);
  }

  /**
   * @return the input/output mode the train graph opens with, AUTO resolved
   */
  public Io trainIo() {
    if (io != Io.AUTO) {
      return io;
    }
    return cuda ? Io.CUDA_GRAPH : Io.COPY;
  }

  /**
   * @param hasFusedGraph the model directory has a train_fused graph
   * @return true if training should go through it (before trying to load the library)
   */
  public boolean wantsFused(boolean hasFusedGraph) {
    return hasFusedGraph && !fp16 && (kernels == Kernels.FUSED || kernels == Kernels.AUTO && cuda);
  }

  /**
   * Parses {@code cpu}, {@code cuda} or {@code cuda:N}.
   *
   * @param spec the text
   * @param tf32 the TF32 setting for CUDA
   * @return the device
   * @throws IllegalArgumentException for anything else
   */
  public static ExecutionDevice parse(String spec, boolean tf32) {
    String s = spec.trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("cpu")) {
      return CPU;
    }
    if (s.equals("cuda")) {
      return new ExecutionDevice(true, 0, tf32, false, Kernels.AUTO, Io.AUTO, Map.of());
    }
    if (s.startsWith("cuda:")) {
      try {
        return new ExecutionDevice(
            true, Integer.parseInt(s.substring(5)), tf32, false, Kernels.AUTO, Io.AUTO, Map.of());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--device " + spec + ": expected cpu, cuda or cuda:N", e);
      }
    }
    throw new IllegalArgumentException("--device " + spec + ": expected cpu, cuda or cuda:N");
  }

  @Override
  public String toString() {
    if (!cuda) {
      return "cpu";
    }
    return "cuda:"
        + deviceId
        + (fp16 ? " (fp16 mixed precision)" : tf32 ? " (tf32)" : " (fp32, tf32 off)")
        + (cudaOptions.isEmpty() ? "" : " " + cudaOptions);
  }
}
