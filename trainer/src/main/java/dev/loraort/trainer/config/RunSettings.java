package dev.loraort.trainer.config;

import dev.loraort.trainer.graph.ExecutionDevice;
import java.nio.file.Path;

/**
 * Where and how a run executes; never written into adapter metadata.
 *
 * @param device CPU or CUDA EP
 * @param threads CPU intra-op threads (0: all cores)
 * @param out the run directory
 * @param trace JSONL trace file, or null
 * @param progressBar draw a progress bar (terminals) instead of plain log lines
 */
public record RunSettings(ExecutionDevice device, int threads, Path out, Path trace, boolean progressBar) {
  /** Validates threads. */
  public RunSettings {
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be >= 0, got " + threads);
    }
  }
}
