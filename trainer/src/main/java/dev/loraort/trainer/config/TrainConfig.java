package dev.loraort.trainer.config;

import dev.loraort.artifacts.LoraPatterns;
import dev.loraort.artifacts.LoraScaling;
import dev.loraort.trainer.method.Lora;
import dev.loraort.trainer.method.MethodConfig;
import dev.loraort.trainer.optim.Schedule;
import java.util.Map;

/**
 * What a run trains and how: saved in run.json and in adapter metadata. Validated on construction;
 * defaults live only in {@link #defaults()}.
 *
 * @param method the method and its settings
 * @param rank LoRA r
 * @param alpha LoRA alpha (s = alpha / r)
 * @param rsLora rank-stabilized LoRA (PEFT's use_rslora): s = alpha / sqrt(r)
 * @param rankPattern PEFT's rank_pattern: module-name pattern to r, first match wins ({@link
 *     LoraPatterns}); empty: every module has rank
 * @param alphaPattern PEFT's alpha_pattern: module-name pattern to alpha; empty: every module has
 *     alpha
 * @param loraDropout PEFT's lora_dropout: the probability of zeroing an element of a LoRA branch's
 *     input during training, for models prepared with the dropout branch; null: the model's default
 *     (the manifest's lora.dropout, or none)
 * @param lr peak learning rate
 * @param schedule schedule shape after warmup
 * @param warmupRatio warmup as a fraction of the steps
 * @param weightDecay AdamW decoupled weight decay
 * @param beta1 Adam beta1
 * @param beta2 Adam beta2
 * @param eps Adam epsilon
 * @param maxGradNorm global gradient-norm clip (0: off)
 * @param steps optimizer steps (0: use epochs)
 * @param epochs epochs over the data when steps is 0
 * @param batchSize examples per micro-batch
 * @param gradAccum micro-batches per optimizer step
 * @param seed the one seed; streams for init, data order and noise are split from it
 */
public record TrainConfig(
    MethodConfig method,
    int rank,
    double alpha,
    boolean rsLora,
    Map<String, Integer> rankPattern,
    Map<String, Double> alphaPattern,
    Double loraDropout,
    double lr,
    Schedule.Kind schedule,
    double warmupRatio,
    double weightDecay,
    double beta1,
    double beta2,
    double eps,
    double maxGradNorm,
    long steps,
    int epochs,
    int batchSize,
    int gradAccum,
    long seed)
    implements LoraScaling {

  /** Validates every field, quoting the bad value; copies the patterns in order. */
  public TrainConfig {
    require(method != null, "method is required");
    require(rank >= 1, "rank must be >= 1, got " + rank);
    require(alpha > 0, "alpha must be > 0, got " + alpha);
    LoraPatterns p = new LoraPatterns(rankPattern, alphaPattern); // validates ranks and alphas
    rankPattern = p.rankPattern();
    alphaPattern = p.alphaPattern();
    require(
        loraDropout == null || (loraDropout >= 0 && loraDropout < 1),
        "lora dropout must be in [0, 1), got " + loraDropout);
    require(lr >= 0 && Double.isFinite(lr), "lr must be >= 0, got " + lr);
    require(warmupRatio >= 0 && warmupRatio < 1, "warmup must be in [0, 1), got " + warmupRatio);
    require(weightDecay >= 0, "weight decay must be >= 0, got " + weightDecay);
    require(maxGradNorm >= 0, "max gradient norm must be >= 0 (0 = off), got " + maxGradNorm);
    require(
        steps >= 0 && epochs >= 0 && (steps > 0 || epochs > 0),
        "need --steps > 0 or --epochs > 0, got steps=" + steps + " epochs=" + epochs);
    require(batchSize >= 1, "batch size must be >= 1, got " + batchSize);
    require(gradAccum >= 1, "gradient accumulation must be >= 1, got " + gradAccum);
  }

  /** Optimizer steps of a run that names neither steps nor epochs. */
  public static final long DEFAULT_STEPS = 100;

  /**
   * @return the defaults (PEFT-style LoRA, AdamW, cosine with 3% warmup)
   */
  public static TrainConfig defaults() {
    return new TrainConfig(
        new Lora.Cfg(),
        8,
        16,
        false,
        Map.of(),
        Map.of(),
        null,
        2e-3,
        Schedule.Kind.COSINE,
        0.03,
        0,
        0.9,
        0.999,
        1e-8,
        1.0,
        DEFAULT_STEPS,
        0,
        16,
        1,
        0);
  }

  /**
   * @param p LoRA dropout's probability, or null for the model's default
   * @return this configuration with that dropout
   */
  public TrainConfig withLoraDropout(Double p) {
    return new TrainConfig(
        method,
        rank,
        alpha,
        rsLora,
        rankPattern,
        alphaPattern,
        p,
        lr,
        schedule,
        warmupRatio,
        weightDecay,
        beta1,
        beta2,
        eps,
        maxGradNorm,
        steps,
        epochs,
        batchSize,
        gradAccum,
        seed);
  }

  /**
   * @return s, the factor of B A of modules at the default rank and alpha: alpha / r, or alpha /
   *     sqrt(r) under rsLoRA
   */
  @Override
  public float scale() {
    return LoraPatterns.scale(rank, alpha, rsLora);
  }

  /**
   * @return rank_pattern and alpha_pattern
   */
  public LoraPatterns patterns() {
    return new LoraPatterns(rankPattern, alphaPattern);
  }

  @Override
  public int rank(String module) {
    return patterns().rank(module, rank);
  }

  @Override
  public float scale(String module) {
    return patterns().scale(module, rank, alpha, rsLora, scale());
  }

  /**
   * Optimizer steps of the run.
   *
   * @param batchesPerEpoch micro-batches in one epoch
   * @return steps, or epochs * ceil(batches / accumulation)
   */
  public long totalSteps(int batchesPerEpoch) {
    return steps > 0 ? steps : (long) epochs * ((batchesPerEpoch + gradAccum - 1) / gradAccum);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
