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
 * @param precision CUDA only for FP16 and BF16: the precision of the train graph's matrix products
 * @param kernels whether to train through the fused-kernel graph (train_fused)
 * @param io how the train graph's inputs and outputs reach the device
 * @param cudaOptions CUDA only: ONNX Runtime CUDA EP provider options (as its Python API's
 *     provider_options take them, e.g. gpu_mem_limit), applied after the trainer's own
 */
public record ExecutionDevice(
    boolean cuda,
    int deviceId,
    boolean tf32,
    Precision precision,
    Kernels kernels,
    Io io,
    Map<String, String> cudaOptions) {
  /** The CPU execution provider. */
  public static final ExecutionDevice CPU =
      new ExecutionDevice(false, 0, false, Precision.FP32, Kernels.AUTO, Io.AUTO, Map.of());

  /** Which train graph's precision: the matrix products' (the LoRA weights are float32 always). */
  public enum Precision {
    /** train (train_fused): float32, TF32 matrix products when {@code tf32} */
    FP32("train", "train_fused"),
    /**
     * train_fp16: fp16 autocast with dynamic loss scaling (the exporter's {@code --fp16}; it has no
     * fused version)
     */
    FP16("train_fp16", null),
    /** train_bf16 (train_fused_bf16): bf16 matrix products, the rest float32; written by prepare */
    BF16("train_bf16", "train_fused_bf16");

    /** the manifest's role of the train graph in this precision */
    public final String role;

    /** the role of its fused-kernel version, or null */
    public final String fusedRole;

    Precision(String role, String fusedRole) {
      this.role = role;
      this.fusedRole = fusedRole;
    }

    /**
     * @return fp32, fp16 or bf16: the command-line flag without its dashes, and how reports name it
     */
    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

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
   * Validates the device id; fp16, bf16, CUDA graphs and CUDA options need CUDA (the CPU EP lacks
   * most fp16 kernels and any bf16 MatMul); keeps the options sorted.
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
    if (precision != Precision.FP32 && !cuda) {
      throw new IllegalArgumentException(
          "--"
              + precision.label()
              + " needs --device cuda (ONNX Runtime's CPU provider has no "
              + (precision == Precision.BF16 ? "bfloat16 MatMul)" : "fp16 kernels for most ops)"));
    }
    if (io == Io.CUDA_GRAPH && !cuda) {
      throw new IllegalArgumentException("--io cuda-graph needs --device cuda");
    }
  }

  /**
   * @param p the train graph's precision
   * @return this device with it
   */
  public ExecutionDevice withPrecision(Precision p) {
    return new ExecutionDevice(cuda, deviceId, tf32, p, kernels, io, cudaOptions);
  }

  /**
   * @param k the kernel choice
   * @return this device with it
   */
  public ExecutionDevice withKernels(Kernels k) {
    return new ExecutionDevice(cuda, deviceId, tf32, precision, k, io, cudaOptions);
  }

  /**
   * @param how the input/output choice
   * @return this device with it
   */
  public ExecutionDevice withIo(Io how) {
    return new ExecutionDevice(cuda, deviceId, tf32, precision, kernels, how, cudaOptions);
  }

  /**
   * @param on let cuBLAS use TF32
   * @return this device with that setting
   */
  public ExecutionDevice withTf32(boolean on) {
    return new ExecutionDevice(cuda, deviceId, on, precision, kernels, io, cudaOptions);
  }

  /**
   * @param options CUDA EP provider options
   * @return this device with them (replacing any it had)
   */
  public ExecutionDevice withCudaOptions(Map<String, String> options) {
    return new ExecutionDevice(cuda, deviceId, tf32, precision, kernels, io, options);
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
   * @param hasFusedGraph the model directory has the fused version of this precision's graph
   * @return true if training should go through it (before trying to load the library)
   */
  public boolean wantsFused(boolean hasFusedGraph) {
    return hasFusedGraph
        && precision.fusedRole != null
        && (kernels == Kernels.FUSED || kernels == Kernels.AUTO && cuda);
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
      return new ExecutionDevice(true, 0, tf32, Precision.FP32, Kernels.AUTO, Io.AUTO, Map.of());
    }
    if (s.startsWith("cuda:")) {
      try {
        return new ExecutionDevice(
            true,
            Integer.parseInt(s.substring(5)),
            tf32,
            Precision.FP32,
            Kernels.AUTO,
            Io.AUTO,
            Map.of());
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
        + switch (precision) {
          case FP16, BF16 -> " (" + precision.label() + " mixed precision)";
          case FP32 -> tf32 ? " (tf32)" : " (fp32, tf32 off)";
        }
        + (cudaOptions.isEmpty() ? "" : " " + cudaOptions);
  }
}
