package dev.loraort.trainer.graph;

/**
 * Where graphs run: the CPU execution provider, or the CUDA EP on one GPU.
 *
 * @param cuda true for the CUDA execution provider
 * @param deviceId the GPU index (0 for CPU)
 * @param tf32 CUDA only: let cuBLAS use TF32 for fp32 matrix products (the CUDA EP's default)
 */
public record ExecutionDevice(boolean cuda, int deviceId, boolean tf32) {
  /** The CPU execution provider. */
  public static final ExecutionDevice CPU = new ExecutionDevice(false, 0, false);

  /** Validates the device id. */
  public ExecutionDevice {
    if (deviceId < 0) {
      throw new IllegalArgumentException("device id must be >= 0, got " + deviceId);
    }
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
      return new ExecutionDevice(true, 0, tf32);
    }
    if (s.startsWith("cuda:")) {
      try {
        return new ExecutionDevice(true, Integer.parseInt(s.substring(5)), tf32);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--device " + spec + ": expected cpu, cuda or cuda:N", e);
      }
    }
    throw new IllegalArgumentException("--device " + spec + ": expected cpu, cuda or cuda:N");
  }

  @Override
  public String toString() {
    return cuda ? "cuda:" + deviceId + (tf32 ? " (tf32)" : " (fp32, tf32 off)") : "cpu";
  }
}
