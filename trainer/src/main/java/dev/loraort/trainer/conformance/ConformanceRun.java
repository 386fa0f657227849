package dev.loraort.trainer.conformance;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.loop.StepLoop;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.method.SharpnessMethod;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Runs this trainer from a golden trace's start, on its batches, and compares. */
public final class ConformanceRun {
  /** Per-step loss tolerance of the conformance suite (relative). */
  public static final double LOSS_RTOL = 1e-5;

  /**
   * Final-tensor tolerance (max abs error over the tensor's max abs), also for perturbation norms.
   */
  public static final double TENSOR_TOL = 1e-4;

  private ConformanceRun() {}

  /**
   * @param m the model the golden trace was made for
   * @param golden the golden trace
   * @param cfg the run's configuration (from the golden trace's args)
   * @param device where to run
   * @param threads CPU threads
   * @return the comparison
   * @throws IOException if the initial tensors do not fit the model
   */
  public static ConformanceReport run(
      Manifest m, GoldenTrace golden, TrainConfig cfg, ExecutionDevice device, int threads)
      throws IOException {
    if (!m.id().equals(golden.model())) {
      throw new IllegalArgumentException(
          golden.dir() + " was made for " + golden.model() + ", not " + m.id());
    }
    LoraParams params = LoraParams.of(m, golden.init(), cfg, golden.dir() + "/init.safetensors");
    Map<String, Tensor> methodState = new LinkedHashMap<>();
    golden
        .init()
        .forEach(
            (k, v) -> {
              if (!params.tree().names().contains(k)) {
                methodState.put(k, v);
              }
            });
    List<TraceRow> rows = new ArrayList<>();
    SharpnessMethod<?> method = Methods.create(cfg.method());
    try (ModelGraphs graphs = ModelGraphs.open(m, device, threads, method.usesRwpGraph())) {
      StepLoop.run(
          graphs,
          method,
          params,
          new FixedBatches(golden.batches()),
          cfg,
          new StepLoop.Options(
              new SplittableRandom(cfg.seed()),
              methodState,
              List.of(r -> rows.add(new TraceRow(r.step(), r.loss(), r.perturbationNorm()))),
              null,
              null,
              0,
              null,
              0));
    }
    return ConformanceReport.compare(
        rows, golden.rows(), params.tree().tensors(), golden.finals(), LOSS_RTOL, TENSOR_TOL);
  }
}
