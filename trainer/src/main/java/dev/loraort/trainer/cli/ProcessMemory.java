package dev.loraort.trainer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * This process's peak resident memory as Linux counts it (VmHWM), resettable, so a CPU benchmark
 * can say what each run's session and steps held at most: the Java heap, ONNX Runtime's arena and
 * the native libraries together. Elsewhere (no /proc) it reads nothing.
 */
final class ProcessMemory {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private ProcessMemory() {}

  /**
   * Sets the peak to the current resident size (Linux: "5" to clear_refs).
   *
   * @return false where the peak cannot be reset
   */
  static boolean resetPeak() {
    try {
      Files.writeString(CLEAR_REFS, "5");
      return true;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /**
   * @return the peak resident size in bytes since the start or the last {@link #resetPeak}, or
   *     empty where /proc does not say
   */
  static OptionalLong peakBytes() {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith("VmHWM:")) {
          String kb = line.substring("VmHWM:".length()).replace("kB", "").trim();
          return OptionalLong.of(Long.parseLong(kb) * 1024);
        }
      }
    } catch (IOException | NumberFormatException e) {
      return OptionalLong.empty();
    }
    return OptionalLong.empty();
  }
}
