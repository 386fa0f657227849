package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.api.BundledModel;
import dev.loraort.trainer.config.RunSettings;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.loop.StepLoop;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.optim.Schedule;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lora-trainer train}. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    modelTransformer = MethodOptions.class,
    description = {
      "Trains a LoRA adapter and writes the run directory: adapter.onnx and run.json.",
      "Without --model and --data it trains the bundled tiny RoBERTa on its sample data, on the CPU."
    })
final class TrainCommand implements Callable<Integer> {
  private static final TrainConfig D = TrainConfig.defaults();

  @Option(
      names = "--model",
      paramLabel = "DIR",
      description = "model directory (lora-graph/1); default: the bundled tiny-roberta-cls")
  Path model;

  @Option(
      names = "--data",
      paramLabel = "FILE",
      description =
          "JSONL (ids or text), CSV (text) or IDX images (labels beside them); default: the"
              + " model's sample/train.jsonl")
  Path data;

  @Spec CommandSpec spec; // carries the method options MethodOptions adds

  @Option(names = "--rank", description = "LoRA rank r (default: ${DEFAULT-VALUE})")
  int rank = D.rank();

  @Option(
      names = "--alpha",
      description = "LoRA alpha; scale s = alpha / r (default: ${DEFAULT-VALUE})")
  double alpha = D.alpha();

  @Option(
      names = "--lora-dropout",
      paramLabel = "P",
      description =
          "PEFT's lora_dropout: zero each element of a LoRA branch's input with probability P"
              + " while training (the branch's input scaled by 1/(1-P)); for models prepared with"
              + " prepare --lora-dropout (default: the value prepare recorded, 0 without)")
  Double loraDropout;

  @Option(
      names = "--use-rslora",
      description =
          "rank-stabilized LoRA (PEFT's use_rslora): scale s = alpha / sqrt(r), so the update's"
              + " size does not shrink as the rank grows")
  boolean rsLora = D.rsLora();

  @Option(
      names = "--rank-pattern",
      paramLabel = "KEY=R[,KEY=R...]",
      description =
          "PEFT's rank_pattern: a module whose name is KEY or ends with .KEY (KEY read as a regex,"
              + " as PEFT does; the first matching KEY wins) gets rank R instead of --rank;"
              + " repeatable. A KEY that matches no adapted module is an error")
  List<String> rankPattern;

  @Option(
      names = "--alpha-pattern",
      paramLabel = "KEY=A[,KEY=A...]",
      description =
          "PEFT's alpha_pattern: as --rank-pattern, for alpha; each module's scale is its alpha"
              + " over its rank (its square root with --use-rslora)")
  List<String> alphaPattern;

  @Option(names = "--lr", description = "peak learning rate (default: ${DEFAULT-VALUE})")
  double lr = D.lr();

  @Option(names = "--schedule", description = "constant, linear or cosine (default: cosine)")
  String schedule = D.schedule().name().toLowerCase(Locale.ROOT);

  @Option(
      names = "--warmup",
      description = "warmup as a fraction of the steps (default: ${DEFAULT-VALUE})")
  double warmup = D.warmupRatio();

  @Option(
      names = "--weight-decay",
      description = "AdamW decoupled weight decay (default: ${DEFAULT-VALUE})")
  double weightDecay = D.weightDecay();

  @Option(
      names = "--max-grad-norm",
      description = "global gradient-norm clip, 0 = off (default: ${DEFAULT-VALUE})")
  double maxGradNorm = D.maxGradNorm();

  @Option(
      names = "--steps",
      description = "optimizer steps (default: " + TrainConfig.DEFAULT_STEPS + " unless --epochs)")
  Long steps;

  @Option(names = "--epochs", description = "epochs over the data (instead of --steps)")
  Integer epochs;

  @Option(
      names = "--batch-size",
      description = "examples per micro-batch (default: ${DEFAULT-VALUE})")
  int batchSize = D.batchSize();

  @Option(
      names = "--grad-accum",
      description = "micro-batches per optimizer step (default: ${DEFAULT-VALUE})")
  int gradAccum = D.gradAccum();

  @Option(names = "--seed", description = "the one seed (default: ${DEFAULT-VALUE})")
  long seed = D.seed();

  @Option(
      names = "--init",
      paramLabel = "PATH",
      description = "start from this adapter (adapter.onnx or .safetensors, contract names)")
  Path init;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: cpu)")
  String device;

  @Option(
      names = "--devices",
      paramLabel = "D1,D2,...",
      split = ",",
      description =
          "instead of --device: data-parallel training, one session per device (cuda:0,cuda:1;"
              + " cpu,cpu), each batch split between them and their gradients combined into the"
              + " whole batch's; seq-cls and causal-lm models")
  List<String> devices;

  @Mixin TrainGraphOptions trainGraph = new TrainGraphOptions();

  @Option(
      names = "--tf32",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description = "CUDA: TF32 matrix products (the CUDA EP's default; --no-tf32 for strict fp32)")
  boolean tf32;

  @Option(
      names = "--fp16",
      description =
          "CUDA: fp16 mixed precision through the model's train_fp16 graph (fp32 LoRA weights,"
              + " dynamic loss scaling)")
  boolean fp16;

  @Option(
      names = "--bf16",
      description =
          "CUDA: bf16 mixed precision through the model's train_bf16 graph, which prepare writes"
              + " (bf16 matrix products; norms, softmax, loss, LoRA weights and optimizer float32,"
              + " but with the fused kernels attention's softmax and the MLP's GELU read and write"
              + " bf16; no loss scaling)")
  boolean bf16;

  @Option(
      names = "--threads",
      description = "CPU intra-op threads, 0 = all cores (default: ${DEFAULT-VALUE})")
  int threads;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      required = true,
      description = "run directory to write")
  Path out;

  @Option(
      names = "--trace",
      paramLabel = "FILE",
      description = "one JSON line per step: step, loss, lr, grad_norm, seconds")
  Path trace;

  @Option(
      names = "--eval-data",
      paramLabel = "FILE",
      description =
          "labelled data to evaluate on during training (accuracy, zero-shot accuracy or"
              + " perplexity): metrics.csv")
  Path evalData;

  @Option(
      names = "--validation-fraction",
      paramLabel = "F",
      description =
          "instead of --eval-data: hold out this share of the deduplicated --data (default: 0)")
  double validationFraction;

  @Option(
      names = "--pad-to-multiple-of",
      paramLabel = "N",
      description =
          "round each training batch's sequence length up to a multiple of N (Hugging Face's"
              + " pad_to_multiple_of; never past the model's positions). Real text otherwise makes"
              + " a new batch shape per length, and on CUDA only the first four shapes run bound"
              + " and replayed as CUDA graphs: give --max-length here for one shape"
              + " (default: ${DEFAULT-VALUE}, each batch's longest example)")
  int padToMultipleOf = 1;

  @Option(
      names = "--split-seed",
      description = "the seed of that split, apart from --seed (default: ${DEFAULT-VALUE})")
  long splitSeed;

  @Option(
      names = "--eval-every",
      paramLabel = "N",
      description =
          "with validation data: every N steps and at the end, 0 = at the end (default: 0)")
  long evalEvery;

  @picocli.CommandLine.Mixin DataOptions read = new DataOptions();

  @Option(
      names = "--progress",
      negatable = true,
      description =
          "a progress bar (default: on a terminal); without it, a plain line every ~5% of the"
              + " steps, as logs want")
  Boolean progress;

  @Option(
      names = "--checkpoint-every",
      paramLabel = "N",
      description =
          "write DIR/checkpoint.safetensors every N steps and at the end, 0 = at the end (default: ${DEFAULT-VALUE})")
  long checkpointEvery = 100;

  @Option(
      names = "--resume",
      description = "continue the run in --out from its checkpoint (give the same options)")
  boolean resume;

  @Option(
      names = "--save-best",
      paramLabel = "METRIC",
      description =
          "with evaluation data: keep the adapter of the best evaluation by METRIC (accuracy, f1,"
              + " mcc; nll, perplexity; recall_at_1, mrr) in adapter_best.onnx")
  String saveBest;

  @Option(
      names = "--early-stopping",
      paramLabel = "N",
      description = "with --save-best: stop after N evaluations without improvement")
  int earlyStopping;

  @Option(
      names = "--stop-on-loss-spike",
      paramLabel = "FACTOR",
      description =
          "stop when a step's loss exceeds FACTOR times the median of the 20 steps before it (after"
              + " 10 steps); the last checkpoint stays as the state to resume from (default: off;"
              + " a NaN or infinite loss always stops)")
  double lossSpike;

  @Option(
      names = "--overwrite",
      description =
          "replace the run already in --out (without it, or --resume, a run there is an error)")
  boolean overwrite;

  @Override
  public Integer call() throws Exception {
    Path modelDir = model;
    String label;
    if (modelDir == null) {
      modelDir = BundledModel.extract();
      label = BundledModel.LABEL;
    } else {
      label = modelDir.toString();
    }
    Path dataFile = BundledModel.dataFile(modelDir, data);
    TrainConfig cfg = config();
    boolean bar = progress != null ? progress : System.console() != null;
    RunSettings settings =
        new RunSettings(
            executionDevices(),
            threads,
            out,
            trace,
            bar,
            checkpointEvery,
            resume,
            overwrite,
            evalEvery,
            lossSpike,
            saveBest,
            earlyStopping);
    TrainingJob.checkRunDirectory(settings);
    System.err.printf(
        "training %s (%s) with %s on %s, %d steps -> %s%n",
        label, dataFile, cfg.method().id(), TrainingJob.devices(settings), cfg.steps(), out);
    StepLoop.Result r =
        TrainingJob.run(
            new TrainingJob.Inputs(
                modelDir,
                label,
                dataFile,
                init,
                read.textOptions(modelDir, Manifest.read(modelDir), dataFile),
                evalData,
                validationFraction,
                splitSeed,
                padToMultipleOf),
            cfg,
            settings,
            Methods.create(cfg.method()),
            System.err);
    System.err.printf(
        Locale.ROOT,
        "done: loss %.5f -> %.5f in %d steps (%.1f s); wrote %s and %s%n",
        r.firstLoss(),
        r.lastLoss(),
        r.steps(),
        r.seconds(),
        out.resolve(TrainingJob.ADAPTER),
        out.resolve(TrainingJob.RUN_JSON));
    return 0;
  }

  /**
   * @return --devices, or --device (cpu unless given), with the precision and graph options
   * @throws IllegalArgumentException if both are given or a device is not cpu, cuda or cuda:N
   */
  private List<ExecutionDevice> executionDevices() {
    if (devices != null && device != null) {
      throw new IllegalArgumentException(
          "give --device or --devices, not both (--devices " + String.join(",", devices) + ")");
    }
    List<String> specs = devices != null ? devices : List.of(device != null ? device : "cpu");
    return specs.stream()
        .map(d -> trainGraph.on(ExecutionDevice.parse(d, tf32).withPrecision(precision())))
        .toList();
  }

  private ExecutionDevice.Precision precision() {
    if (fp16 && bf16) {
      throw new IllegalArgumentException("--fp16 and --bf16: choose one");
    }
    return fp16
        ? ExecutionDevice.Precision.FP16
        : bf16 ? ExecutionDevice.Precision.BF16 : ExecutionDevice.Precision.FP32;
  }

  /**
   * The run's configuration from the options.
   *
   * @return the validated config
   * @throws IllegalArgumentException for conflicting or invalid options
   */
  TrainConfig config() {
    if (steps != null && epochs != null) {
      throw new IllegalArgumentException("give --steps or --epochs, not both");
    }
    Schedule.Kind kind;
    try {
      kind = Schedule.Kind.valueOf(schedule.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--schedule " + schedule + ": expected constant, linear or cosine", e);
    }
    return new TrainConfig(
        MethodOptions.config(spec),
        rank,
        alpha,
        rsLora,
        PatternOption.parse("--rank-pattern", rankPattern, Integer::valueOf),
        PatternOption.parse("--alpha-pattern", alphaPattern, Double::valueOf),
        loraDropout,
        lr,
        kind,
        warmup,
        weightDecay,
        D.beta1(),
        D.beta2(),
        D.eps(),
        maxGradNorm,
        epochs != null ? 0 : (steps != null ? steps : D.steps()),
        epochs != null ? epochs : 0,
        batchSize,
        gradAccum,
        seed);
  }
}
