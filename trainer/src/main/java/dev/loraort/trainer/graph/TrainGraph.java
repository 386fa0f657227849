package dev.loraort.trainer.graph;

import ai.onnxruntime.TensorInfo;
import dev.loraort.artifacts.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the step loop runs a train graph through: one session ({@link GraphSession}), or one session
 * per device with the batch split between them ({@link DataParallelGraph}). Either way a run
 * returns what one session computes on the whole batch.
 */
public interface TrainGraph extends AutoCloseable {
  /**
   * @return the graph file
   */
  Path path();

  /**
   * The graph's inputs or outputs: name -> (dtype, shape with -1 for symbolic dims, dim names).
   *
   * @param outputs true for outputs
   * @return tensor infos by name, in graph order
   */
  Map<String, TensorInfo> io(boolean outputs);

  /**
   * Runs the graph once and copies the requested outputs to host tensors.
   *
   * @param feeds every graph input by name
   * @param outputs the outputs to fetch
   * @return the outputs by name, in the order requested
   * @throws GraphException if ONNX Runtime rejects the feeds or fails; the message names the file
   */
  Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> outputs);

  /**
   * @return nanoseconds of wall time that the runs have spent, since the graph opened, copying
   *     between Java arrays and ONNX Runtime tensors (host time inside a run)
   */
  long copyNanos();

  /** Closes every session; idempotent, and declares no checked exception. */
  @Override
  void close();
}
