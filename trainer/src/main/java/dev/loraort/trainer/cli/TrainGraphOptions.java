package dev.loraort.trainer.cli;

import dev.loraort.trainer.graph.ExecutionDevice;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/**
 * {@code --kernels}, {@code --io} and {@code --cuda-option}: which train graph runs and how, for
 * the commands that run one.
 */
final class TrainGraphOptions {
  @Option(
      names = "--kernels",
      paramLabel = "auto|plain|fused",
      description =
          "auto: a directory's train_fused graph (fused backward kernels) on CUDA, train.onnx"
              + " otherwise or when the kernel library cannot load (said once); plain: always"
              + " train.onnx; fused: train_fused on any device, an error if it cannot run"
              + " (default: auto)")
  ExecutionDevice.Kernels kernels = ExecutionDevice.Kernels.AUTO;

  @Option(
      names = "--io",
      paramLabel = "auto|copy|bound|cuda-graph",
      converter = IoConverter.class,
      description =
          "how the train graph's inputs and outputs reach the device. copy: ONNX Runtime's Java"
              + " API, every tensor copied in and out on each run; bound: bound once to fixed"
              + " memory (IoBinding through the native library), one copy in and one out per"
              + " run; cuda-graph: bound, and the CUDA EP captures the step once and replays it"
              + " as a CUDA graph (no launch gaps); auto: cuda-graph on CUDA (bound where the"
              + " graph cannot be captured, said once), copy on CPU (default: auto)")
  ExecutionDevice.Io io = ExecutionDevice.Io.AUTO;

  @Option(
      names = "--cuda-option",
      paramLabel = "KEY=VALUE",
      description =
          "an ONNX Runtime CUDA execution provider option, as its provider_options take it"
              + " (repeatable; e.g. gpu_mem_limit=8589934592, cudnn_conv_use_max_workspace=0);"
              + " it overrides the trainer's own (arena_extend_strategy=kSameAsRequested,"
              + " use_tf32 from --no-tf32, enable_cuda_graph from --io)")
  Map<String, String> cudaOptions = new LinkedHashMap<>();

  ExecutionDevice on(ExecutionDevice d) {
    return d.withKernels(kernels).withIo(io).withCudaOptions(cudaOptions);
  }

  /** Reads cuda-graph as CUDA_GRAPH. */
  static final class IoConverter implements ITypeConverter<ExecutionDevice.Io> {
    @Override
    public ExecutionDevice.Io convert(String value) {
      try {
        return ExecutionDevice.Io.valueOf(value.trim().replace('-', '_').toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--io " + value + ": expected auto, copy, bound or cuda-graph", e);
      }
    }
  }
}
