package dev.loraort.trainer.loop;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.BatchSource;
import dev.loraort.trainer.data.PrefetchedBatches;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.LossScaler;
import dev.loraort.trainer.graph.ModelGraphs;
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
 * per step: draw the step's micro-batches once (every pass sees the same ones; the next step's
 *   batch is built on a background thread meanwhile)
 *   per pass: method.beforePass -> graph run per micro-batch, gradients averaged -> method.afterGrad
 *   optimizer update with the last pass's gradients -> params += updates -> method.afterUpdate
 *   listeners get (step, loss, lr, gradient norm, seconds)
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
    long total = cfg.totalSteps(data.batchesPerEpoch());
    Schedule schedule =
        Schedule.of(cfg.schedule(), cfg.lr(), (long) Math.ceil(cfg.warmupRatio() * total), total);
    Chain optimizer =
        Optimizers.adamw(
            schedule,
            cfg.beta1(),
            cfg.beta2(),
            cfg.eps(),
            cfg.weightDecay(),
            cfg.maxGradNorm(),
            false);
    List<Object> optState = optimizer.init(params.tree());
    S state =
        method.init(
            params,
            new SharpnessMethod.Setup(
                schedule, total, o.methodRng(), cfg.beta1(), cfg.beta2(), cfg.eps()));
    if (!o.methodState().isEmpty()) {
      method.loadState(state, o.methodState());
    }
    LossScaler scaler = graphs.lossScaler(); // null in fp32
    long start = 0;
    if (o.resume() != null) {
      Checkpoint c = o.resume();
      params.tree().setFrom(ParamTree.of(c.params()));
      optState = optimizer.load(optState, c.optimizer());
      method.loadState(state, c.method());
      if (scaler != null) {
        scaler.load(c.lossScaler());
      }
      data.seek(c.dataPosition());
      start = c.step();
    }
    GraphSession graph = method.usesRwpGraph() ? graphs.rwp() : graphs.train();
    List<String> outputs = ModelGraphs.trainOutputs(params.tree().names());
    double firstLoss = Double.NaN;
    double loss = Double.NaN;
    long saved = o.resume() != null ? start : -1; // the last checkpoint on disk
    LossSpikes spikes = new LossSpikes(o.lossSpike());
    long started = System.nanoTime();
    try (PrefetchedBatches batches =
        new PrefetchedBatches(data, (total - start) * cfg.gradAccum())) {
      for (long t = start; t < total; t++) {
        long t0 = System.nanoTime();
        long inGraph = 0;
        long inMethod = 0;
        long copied = graph.copyNanos();
        Step step = new Step(t, total, schedule.at(t));
        long d0 = System.nanoTime();
        List<Map<String, Tensor>> micro = new ArrayList<>();
        for (int i = 0; i < cfg.gradAccum(); i++) {
          micro.add(batches.next());
        }
        long inData = System.nanoTime() - d0;
        ParamTree grads = null;
        for (int pass = 0; pass < method.passes(); pass++) {
          long m0 = System.nanoTime();
          Map<String, Tensor> extra = method.beforePass(pass, params, state, step);
          inMethod += System.nanoTime() - m0;
          ParamTree sum = null; // shaped by the graph's outputs: Bi-LoRA feeds a wider rank
          double lossSum = 0;
          for (Map<String, Tensor> batch : micro) {
            long g0 = System.nanoTime();
            Map<String, Tensor> feeds = ModelGraphs.feeds(batch, params.feeds(), extra);
            Map<String, Tensor> out =
                scaler == null
                    ? graph.run(feeds, outputs)
                    : scaler.run(f -> graph.run(f, outputs), feeds);
            inGraph += System.nanoTime() - g0;
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
          if (pass == 0) {
            loss = lossSum / micro.size();
          }
          m0 = System.nanoTime();
          grads = method.afterGrad(pass, sum, params, state, step);
          inMethod += System.nanoTime() - m0;
        }
        double gradNorm = grads.globalNorm();
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
        long o0 = System.nanoTime();
        optState = optimizer.update(grads, optState, params.tree());
        params.tree().addScaled(1.0, grads);
        long m1 = System.nanoTime();
        long inOptimizer = m1 - o0;
        method.afterUpdate(params, state, step);
        inMethod += System.nanoTime() - m1;
        String bad = params.tree().firstNonFinite();
        if (bad != null) {
          throw new TrainingDiverged(
              "step " + (t + 1) + ": the update made " + bad + " (lower --lr)", saved);
        }
        if (t == start) {
          firstLoss = loss;
        }
        long dt = System.nanoTime() - t0;
        copied = graph.copyNanos() - copied;
        StepRecord r =
            new StepRecord(
                t + 1,
                total,
                loss,
                step.lr(),
                gradNorm,
                new StepTimes(
                    dt / 1e9,
                    (inGraph - copied) / 1e9,
                    copied / 1e9,
                    inMethod / 1e9,
                    inOptimizer / 1e9,
                    inData / 1e9),
                method.perturbationNorm(state));
        o.listeners().forEach(l -> l.onStep(r));
        boolean last = t + 1 == total;
        Evaluation ev = o.evaluation();
        if (ev != null && (last || (t + 1) % ev.every() == 0)) {
          Map<String, Double> metrics = ev.evaluate().apply(params);
          long done = t + 1;
          o.listeners().forEach(l -> l.onEvaluation(done, metrics));
          if (!ev.judge().keepGoing(done, metrics, params)) {
            last = true; // early stopping: this step's checkpoint is the run's last
            total = done;
          }
        }
        if (o.checkpoints() != null
            && (last || o.checkpointEvery() > 0 && (t + 1) % o.checkpointEvery() == 0)) {
          Map<String, Tensor> ms = method.stateTensors(state);
          try {
            new Checkpoint(
                    t + 1,
                    params.tree().tensors(),
                    optimizer.save(optState),
                    ms,
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
    }
    return new Result(params, firstLoss, loss, total - start, (System.nanoTime() - started) / 1e9);
  }
}
