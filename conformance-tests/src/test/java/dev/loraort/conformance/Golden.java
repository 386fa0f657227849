package dev.loraort.conformance;

import dev.loraort.trainer.cli.TrainArgs;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.method.MethodConfig;

/** Test helpers around a golden trace's configuration. */
final class Golden {
  private Golden() {}

  static TrainConfig config(GoldenTrace g) {
    return TrainArgs.parse(g.args());
  }

  static TrainConfig withMethod(TrainConfig c, MethodConfig m) {
    return new TrainConfig(
        m,
        c.rank(),
        c.alpha(),
        c.rsLora(),
        c.rankPattern(),
        c.alphaPattern(),
        c.loraDropout(),
        c.lr(),
        c.schedule(),
        c.warmupRatio(),
        c.weightDecay(),
        c.beta1(),
        c.beta2(),
        c.eps(),
        c.maxGradNorm(),
        c.steps(),
        c.epochs(),
        c.batchSize(),
        c.gradAccum(),
        c.seed());
  }
}
