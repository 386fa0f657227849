package dev.loraort.trainer.cli;

import dev.loraort.trainer.graph.ExecutionDevice;
import picocli.CommandLine.Option;

/** {@code --kernels}: which train graph runs, for the commands that run one. */
final class KernelsOption {
  @Option(
      names = "--kernels",
      paramLabel = "auto|plain|fused",
      description =
          "auto: a directory's train_fused graph (fused backward kernels) on CUDA, train.onnx"
              + " otherwise or when the kernel library cannot load (said once); plain: always"
              + " train.onnx; fused: train_fused on any device, an error if it cannot run"
              + " (default: auto)")
  ExecutionDevice.Kernels kernels = ExecutionDevice.Kernels.AUTO;

  ExecutionDevice on(ExecutionDevice d) {
    return d.withKernels(kernels);
  }
}
