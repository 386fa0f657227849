package dev.loraort.trainer.config;

import dev.loraort.trainer.graph.ExecutionDevice;
import java.nio.file.Path;
import java.util.List;

/**
 * Where and how a run executes; never written into adapter metadata.
 *
 * @param devices where the train graph runs: one device, or several that split each batch between
 *     them (data-parallel); evaluation runs on the first
 * @param threads CPU intra-op threads of each session (0: all cores)
 * @param out the run directory
 * @param trace JSONL trace file, or null
 * @param progressBar draw a progress bar (terminals) instead of plain log lines
 * @param checkpointEvery write out/checkpoint.safetensors every this many steps (and at the end);
 *     0: at the end only
 * @param resume continue from out/checkpoint.safetensors
 * @param overwrite replace a run already in out (else a run there is an error unless resuming)
 * @param evalEvery with evaluation data: evaluate every this many steps and at the end (0: at the
 *     end)
 * @param lossSpike stop when a step's loss exceeds this many times the median of the 20 before it
 *     (0: off; a loss that is not finite always stops the run)
 * @param saveBest with evaluation data: keep the adapter of the best evaluation by this metric in
 *     out/adapter_best.onnx (null: none)
 * @param earlyStopping with saveBest: stop after this many evaluations without improvement (0: off)
 */
public record RunSettings(
    List<ExecutionDevice> devices,
    int threads,
    Path out,
    Path trace,
    boolean progressBar,
    long checkpointEvery,
    boolean resume,
    boolean overwrite,
    long evalEvery,
    double lossSpike,
    String saveBest,
    int earlyStopping) {
  /** Validates the settings and copies the device list. */
  public RunSettings {
    devices = List.copyOf(devices);
    if (devices.isEmpty()) {
      throw new IllegalArgumentException("at least one device is needed");
    }
    if (checkpointEvery < 0) {
      throw new IllegalArgumentException(
          "checkpoint interval must be >= 0, got " + checkpointEvery);
    }
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be >= 0, got " + threads);
    }
    if (earlyStopping > 0 && saveBest == null) {
      throw new IllegalArgumentException(
          "--early-stopping needs --save-best METRIC: the metric whose improvement it waits for");
    }
    if (resume && overwrite) {
      throw new IllegalArgumentException(
          "--resume continues the run in --out; --overwrite replaces it: choose one");
    }
  }

  /**
   * Settings on one device with checkpoints only at the end and no resume.
   *
   * @param device CPU or CUDA EP
   * @param threads CPU intra-op threads
   * @param out the run directory
   * @param trace JSONL trace file, or null
   * @param progressBar draw a progress bar
   * @return the settings
   */
  public static RunSettings of(
      ExecutionDevice device, int threads, Path out, Path trace, boolean progressBar) {
    return new RunSettings(
        List.of(device), threads, out, trace, progressBar, 0, false, false, 0, 0, null, 0);
  }
}
