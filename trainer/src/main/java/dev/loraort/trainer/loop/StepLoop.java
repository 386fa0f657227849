package dev.loraort.trainer.loop;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.builder.lora.Dropout;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.BatchSource;
import dev.loraort.trainer.data.PrefetchedBatches;
import dev.loraort.trainer.graph.LossScaler;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.graph.TrainGraph;
import dev.loraort.trainer.method.SharpnessMethod;
import dev.loraort.trainer.method.Step;
import dev.loraort.trainer.optim.Chain;
import dev.loraort.trainer.optim.Optimizers;
import dev.loraort.trainer.optim.Schedule;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The step loop: the only caller of the graphs, the method and the optimizer, in a fixed order.
 *
 * <pre>
 * per step, one phase each:
 *   fetchBatches   the step's micro-batches, drawn once: every pass sees the same ones (the next
 *                  step's are built on a background thread meanwhile)
 *   methodStep     per pass: method.beforePass -> a graph run per micro-batch, gradients averaged
 *                  -> method.afterGrad
 *   stopIfDiverged a loss or gradient norm that is not finite, or a loss spike, stops the run
 *   update         optimizer update with the last pass's gradients -> params += updates
 *                  -> method.afterUpdate
 *   report         listeners get (step, loss, lr, gradient norm, seconds)
 *   evaluate       every N steps and at the end; may stop the run early
 *   checkpoint     every N steps and at the end
 * </pre>
 */
public final class StepLoop {
  /**
   * The outcome.
   *
   * @param params the trained parameters
   * @param firstLoss the first step's loss
   * @param lastLoss the last step's loss
   * @param steps steps taken by this call (fewer than the run's after a resume)
   * @param seconds wall time of all steps
   */
  public record Result(
      LoraParams params, double firstLoss, double lastLoss, long steps, double seconds) {}

  /**
   * How to run besides what to train.
   *
   * @param methodRng the method's random stream (split from the run seed)
   * @param methodState tensors that replace the method's initial state (empty: none)
   * @param listeners step observers
   * @param resume a checkpoint to continue from, or null
   * @param checkpoints where checkpoints go, or null for none
   * @param checkpointEvery write one every this many steps (and after the last); 0: only after the
   *     last
   * @param evaluation periodic evaluation of the current parameters, or null
   * @param lossSpike stop when a step's loss exceeds this many times the median of the steps before
   *     it ({@link LossSpikes}); 0: only a loss that is not finite stops
   */
  public record Options(
      SplittableRandom methodRng,
      Map<String, Tensor> methodState,
      List<StepListener> listeners,
      Checkpoint resume,
      Path checkpoints,
      long checkpointEvery,
      Evaluation evaluation,
      double lossSpike) {
    /** Copies collections. */
    public Options {
      methodState = Map.copyOf(methodState);
      listeners = List.copyOf(listeners);
    }

    /**
     * @param methodRng the method's stream
     * @param listeners step observers
     * @return options without method state, resume or checkpoints
     */
    public static Options of(SplittableRandom methodRng, List<StepListener> listeners) {
      return new Options(methodRng, Map.of(), listeners, null, null, 0, null, 0);
    }
  }

  private StepLoop() {}

  /**
   * Trains {@code params} in place (from a checkpoint's state when {@code o.resume()} is set).
   *
   * @param <S> the method's state
   * @param graphs the checked sessions
   * @param method the method
   * @param params initial parameters, updated in place
   * @param data the batch source
   * @param cfg the run's configuration
   * @param o method stream and state, listeners, resume and checkpoints
   * @return the outcome
   * @throws TrainingDiverged if a loss or gradient norm is not finite
   * @throws UncheckedIOException if a checkpoint cannot be written
   */
  public static <S> Result run(
      ModelGraphs graphs,
      SharpnessMethod<S> method,
      LoraParams params,
      BatchSource data,
      TrainConfig cfg,
      Options o) {
    return new Training<>(graphs, method, params, data, cfg, o).toTheEnd();
  }

  /**
   * One call's training: what stays fixed over its steps, and what a step hands to the next
   * (optimizer and method state, the run's length, the last checkpoint on disk). Each phase of a
   * step is one method, called in the order {@link #toTheEnd} shows.
   */
  private static final class Training<S> {
    private final SharpnessMethod<S> method;
    private final LoraParams params;
    private final BatchSource data;
    private final TrainConfig cfg;
    private final Options o;
    private final Schedule schedule;
    private final Chain optimizer;
    private final S state;
    private final LossScaler scaler; // null in fp32
    private final TrainGraph graph;
    private final List<String> outputs;
    private final LossSpikes spikes;
    private final long start;
    private List<Object> optState;
    private long total;
    private long saved; // the step of the last checkpoint on disk; -1: none

    /** Builds the optimizer and the method's state, then restores a checkpoint if resuming. */
    Training(
        ModelGraphs graphs,
        SharpnessMethod<S> method,
        LoraParams params,
        BatchSource data,
        TrainConfig cfg,
        Options o) {
      this.method = method;
      this.params = params;
      this.data = data;
      this.cfg = cfg;
      this.o = o;
      total = cfg.totalSteps(data.batchesPerEpoch());
      schedule =
          Schedule.of(cfg.schedule(), cfg.lr(), (long) Math.ceil(cfg.warmupRatio() * total), total);
      optimizer =
          Optimizers.adamw(
              schedule,
              cfg.beta1(),
              cfg.beta2(),
              cfg.eps(),
              cfg.weightDecay(),
              cfg.maxGradNorm(),
              false);
      optState = optimizer.init(params.tree());
      state =
          method.init(
              params,
              new SharpnessMethod.Setup(
                  schedule, total, o.methodRng(), cfg.beta1(), cfg.beta2(), cfg.eps()));
      if (!o.methodState().isEmpty()) {
        method.loadState(state, o.methodState());
      }
      scaler = graphs.lossScaler();
      start = o.resume() != null ? resume(o.resume()) : 0;
      saved = o.resume() != null ? start : -1;
      graph = method.usesRwpGraph() ? graphs.rwp() : graphs.train();
      outputs = ModelGraphs.trainOutputs(params.tree().names());
      spikes = new LossSpikes(o.lossSpike());
    }

    /** Puts back a checkpoint's parameters, optimizer, method and loss-scale state and data. */
    private long resume(Checkpoint c) {
      params.tree().setFrom(ParamTree.of(c.params()));
      optState = optimizer.load(optState, c.optimizer());
      method.loadState(state, c.method());
      if (scaler != null) {
        scaler.load(c.lossScaler());
      }
      data.seek(c.dataPosition());
      return c.step();
    }

    /** The steps, each phase in order; early stopping shortens {@code total}. */
    Result toTheEnd() {
      double firstLoss = Double.NaN;
      double loss = Double.NaN;
      long started = System.nanoTime();
      try (PrefetchedBatches batches =
          new PrefetchedBatches(data, (total - start) * cfg.gradAccum())) {
        for (long t = start; t < total; t++) {
          Clock clock = new Clock(graph.copyNanos());
          Step step = new Step(t, total, schedule.at(t));
          List<Map<String, Tensor>> micro = fetchBatches(batches, clock);
          Gradients g = methodStep(micro, step, clock);
          double gradNorm = g.grads().globalNorm();
          stopIfDiverged(t, g.loss(), gradNorm);
          update(g.grads(), step, clock);
          loss = g.loss();
          if (t == start) {
            firstLoss = loss;
          }
          report(t, step, loss, gradNorm, clock);
          boolean last = evaluate(t) || t + 1 == total;
          checkpoint(t, last, batches);
        }
      }
      return new Result(
          params, firstLoss, loss, total - start, (System.nanoTime() - started) / 1e9);
    }

    /** The step's micro-batches, drawn once: every pass sees the same ones. */
    private List<Map<String, Tensor>> fetchBatches(PrefetchedBatches batches, Clock clock) {
      long d0 = System.nanoTime();
      List<Map<String, Tensor>> micro = new ArrayList<>();
      for (int i = 0; i < cfg.gradAccum(); i++) {
        micro.add(batches.next());
      }
      clock.data += System.nanoTime() - d0;
      return micro;
    }

    /**
     * The method's passes: before each, the method may perturb the parameters or add feeds; after
     * it, it restores them and may change the gradients.
     *
     * @return the first pass's loss and the last pass's gradients as the method leaves them
     */
    private Gradients methodStep(List<Map<String, Tensor>> micro, Step step, Clock clock) {
      double loss = Double.NaN;
      ParamTree grads = null;
      for (int pass = 0; pass < method.passes(); pass++) {
        long m0 = System.nanoTime();
        Map<String, Tensor> extra = method.beforePass(pass, params, state, step);
        clock.method += System.nanoTime() - m0;
        Gradients g = meanGradients(micro, extra, step, clock);
        if (pass == 0) {
          loss = g.loss();
        }
        m0 = System.nanoTime();
        grads = method.afterGrad(pass, g.grads(), params, state, step);
        clock.method += System.nanoTime() - m0;
      }
      return new Gradients(loss, grads);
    }

    /** One graph run per micro-batch; the mean loss and the mean gradients. */
    private Gradients meanGradients(
        List<Map<String, Tensor>> micro, Map<String, Tensor> extra, Step step, Clock clock) {
      ParamTree sum = null; // shaped by the graph's outputs: Bi-LoRA feeds a wider rank
      double lossSum = 0;
      for (int m = 0; m < micro.size(); m++) {
        long g0 = System.nanoTime();
        // the method's feeds replace the parameters' before scales and ranks are fed (LoraParams)
        Map<String, Tensor> feeds = ModelGraphs.feeds(micro.get(m), params.feeds(extra), Map.of());
        if (cfg.loraDropout() != null && cfg.loraDropout() > 0) {
          // the mask is a function of (seed, step, micro-batch): a resumed run draws the same ones,
          // and every pass of a two-pass method sees the step's masks
          feeds.put(TensorNames.LORA_DROPOUT, Tensor.scalar(cfg.loraDropout().floatValue()));
          feeds.put(
              TensorNames.LORA_DROPOUT_SEED,
              Tensor.ofLongs(new long[0], new long[] {Dropout.seed(cfg.seed(), step.index(), m)}));
        }
        Map<String, Tensor> out =
            params.trueGradients(
                scaler == null
                    ? graph.run(feeds, outputs)
                    : scaler.run(f -> graph.run(f, outputs), feeds),
                extra);
        clock.graph += System.nanoTime() - g0;
        lossSum += out.get(TensorNames.LOSS).floats()[0];
        if (sum == null) {
          Map<String, Tensor> g = new LinkedHashMap<>();
          for (String n : params.tree().names()) {
            g.put(n, out.get(TensorNames.grad(n)));
          }
          sum = ParamTree.of(g);
        } else {
          for (String n : sum.names()) {
            float[] acc = sum.get(n);
            float[] g = out.get(TensorNames.grad(n)).floats();
            for (int k = 0; k < acc.length; k++) {
              acc[k] += g[k];
            }
          }
        }
      }
      if (micro.size() > 1) {
        // mean over micro-batches, like dividing each loss by their count
        sum.scale(1.0 / micro.size());
      }
      return new Gradients(lossSum / micro.size(), sum);
    }

    /** Stops before the update on a loss or gradient norm that is not finite, or a loss spike. */
    private void stopIfDiverged(long t, double loss, double gradNorm) {
      if (!Double.isFinite(loss) || !Double.isFinite(gradNorm)) {
        throw new TrainingDiverged(
            "step "
                + (t + 1)
                + ": loss "
                + loss
                + ", gradient norm "
                + gradNorm
                + " (lower --lr, or clip with --max-grad-norm)",
            saved);
      }
      String spike = spikes.check(loss);
      if (spike != null) {
        throw new TrainingDiverged("step " + (t + 1) + ": " + spike, saved);
      }
    }

    /** The optimizer's update, added to the parameters, then the method's own (Bi-LoRA's clip). */
    private void update(ParamTree grads, Step step, Clock clock) {
      long o0 = System.nanoTime();
      optState = optimizer.update(grads, optState, params.tree());
      params.tree().addScaled(1.0, grads);
      long m1 = System.nanoTime();
      clock.optimizer += m1 - o0;
      method.afterUpdate(params, state, step);
      clock.method += System.nanoTime() - m1;
      String bad = params.tree().firstNonFinite();
      if (bad != null) {
        throw new TrainingDiverged(
            "step " + (step.index() + 1) + ": the update made " + bad + " (lower --lr)", saved);
      }
    }

    /** The step's record to every listener (trace, progress, TensorBoard). */
    private void report(long t, Step step, double loss, double gradNorm, Clock clock) {
      long dt = System.nanoTime() - clock.start;
      long copied = graph.copyNanos() - clock.copiedBefore;
      StepRecord r =
          new StepRecord(
              t + 1,
              total,
              loss,
              step.lr(),
              gradNorm,
              new StepTimes(
                  dt / 1e9,
                  (clock.graph - copied) / 1e9,
                  copied / 1e9,
                  clock.method / 1e9,
                  clock.optimizer / 1e9,
                  clock.data / 1e9),
              method.perturbationNorm(state));
      o.listeners().forEach(l -> l.onStep(r));
    }

    /**
     * Evaluates every {@code every} steps and after the last.
     *
     * @return true if the judge stops the run early (this step becomes its last)
     */
    private boolean evaluate(long t) {
      Evaluation ev = o.evaluation();
      if (ev == null || !(t + 1 == total || (t + 1) % ev.every() == 0)) {
        return false;
      }
      Map<String, Double> metrics = ev.evaluate().apply(params);
      long done = t + 1;
      o.listeners().forEach(l -> l.onEvaluation(done, metrics));
      if (ev.judge().keepGoing(done, metrics, params)) {
        return false;
      }
      total = done;
      return true;
    }

    /** Writes the whole state every {@code checkpointEvery} steps and after the last. */
    private void checkpoint(long t, boolean last, PrefetchedBatches batches) {
      if (o.checkpoints() == null
          || !(last || o.checkpointEvery() > 0 && (t + 1) % o.checkpointEvery() == 0)) {
        return;
      }
      try {
        new Checkpoint(
                t + 1,
                params.tree().tensors(),
                optimizer.save(optState),
                method.stateTensors(state),
                scaler == null ? Map.of() : scaler.state(),
                batches.position(),
                TrainingJob.configJson(cfg))
            .write(o.checkpoints());
        saved = t + 1;
      } catch (IOException e) {
        throw new UncheckedIOException(o.checkpoints() + ": writing the checkpoint failed", e);
      }
    }
  }

  /** A pass's (or a step's) loss and gradients. */
  private record Gradients(double loss, ParamTree grads) {}

  /** Where a step's time goes, in nanoseconds; what {@link StepTimes} reports. */
  private static final class Clock {
    final long start = System.nanoTime();
    final long copiedBefore; // the graph's copy time before the step
    long data;
    long graph;
    long method;
    long optimizer;

    Clock(long copiedBefore) {
      this.copiedBefore = copiedBefore;
    }
  }
}
