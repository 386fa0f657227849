package dev.loraort.trainer.api;

import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.data.TextDataset;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.method.MethodConfig;
import dev.loraort.trainer.method.Methods;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * What {@link LoraTrainer#train} trains, on what and where: immutable, built with {@link
 * #builder(Path)}. Every setting the builder leaves alone keeps the default of {@code lora-trainer
 * train} ({@link TrainConfig#defaults()}: plain LoRA, r = 8, alpha = 16, AdamW at lr 2e-3 with a
 * cosine schedule, 100 steps of 16 examples, seed 0; CPU with all cores).
 *
 * <pre>{@code
 * TrainOptions options =
 *     TrainOptions.builder(Path.of("runs/first"))
 *         .model(Path.of("models/bge-small-cls")) // omit for the bundled tiny RoBERTa
 *         .data(Path.of("train.jsonl"))           // omit for the model's sample data
 *         .method("eflat-lora")
 *         .steps(200)
 *         .lr(1e-3)
 *         .build();
 * }</pre>
 */
public final class TrainOptions {
  final Path model;
  final Path data;
  final TextDataset.Fields textFields;
  final int maxLength;
  final int padToMultipleOf;
  final Path runDir;
  final Path init;
  final TrainConfig config;
  final ExecutionDevice device;
  final int threads;
  final boolean overwrite;
  final Path trace;
  final PrintStream log;

  private TrainOptions(Builder b, TrainConfig config) {
    this.model = b.model;
    this.data = b.data;
    this.textFields = b.textFields;
    this.maxLength = b.maxLength;
    this.padToMultipleOf = b.padToMultipleOf;
    this.runDir = b.runDir;
    this.init = b.init;
    this.config = config;
    this.device =
        b.device
            .withCudaOptions(b.cudaOptions)
            .withPrecision(
                b.bf16 ? ExecutionDevice.Precision.BF16 : ExecutionDevice.Precision.FP32);
    this.threads = b.threads;
    this.overwrite = b.overwrite;
    this.trace = b.trace;
    this.log = b.log;
  }

  /**
   * Starts options for a run that writes its results into {@code runDir}.
   *
   * @param runDir the run directory to create: {@code adapter.onnx}, {@code run.json}, {@code
   *     checkpoint.safetensors}, curves and TensorBoard events
   * @return a builder with every other setting at its default
   * @throws NullPointerException if runDir is null
   */
  public static Builder builder(Path runDir) {
    return new Builder(runDir);
  }

  /**
   * What is trained and how, as run.json and the adapter's metadata record it.
   *
   * @return the validated configuration
   */
  public TrainConfig config() {
    return config;
  }

  /**
   * The run directory.
   *
   * @return the directory the run writes
   */
  public Path runDir() {
    return runDir;
  }

  /**
   * Collects settings; {@link #build()} validates them. A builder is not thread-safe; the options
   * it builds are immutable.
   */
  public static final class Builder {
    private final Path runDir;
    private Path model;
    private Path data;
    private TextDataset.Fields textFields = new TextDataset.Fields("text", null, "label");
    private int maxLength = 128;
    private int padToMultipleOf = 1;
    private Path init;
    private MethodConfig method;
    private int rank;
    private double alpha;
    private boolean rsLora;
    private Map<String, Integer> rankPattern;
    private Map<String, Double> alphaPattern;
    private Double loraDropout;
    private double lr;
    private long steps;
    private int epochs;
    private int batchSize;
    private long seed;
    private TrainConfig base;
    private ExecutionDevice device = ExecutionDevice.CPU;
    private final java.util.Map<String, String> cudaOptions = new java.util.TreeMap<>();
    private boolean bf16;
    private int threads;
    private boolean overwrite;
    private Path trace;
    private PrintStream log = new PrintStream(OutputStream.nullOutputStream());

    private Builder(Path runDir) {
      if (runDir == null) {
        throw new NullPointerException("runDir is required");
      }
      this.runDir = runDir;
      config(TrainConfig.defaults());
    }

    /**
     * The model directory to train (lora-graph/1: what {@code lora-trainer prepare} writes, or one
     * of {@code onnx-models/}). Default: the bundled tiny RoBERTa ({@link BundledModel}).
     *
     * @param modelDir the directory with manifest.json and the training graphs
     * @return this builder
     */
    public Builder model(Path modelDir) {
      this.model = modelDir;
      return this;
    }

    /**
     * The training data: JSONL with one example a line and a field per batch input of the model
     * without the batch dimension ({@code {"input_ids": [0, 31, 7, 2], "labels": 1}}), or text
     * (JSONL with a text field, or CSV; see {@link #textFields}). Default: the model directory's
     * {@value BundledModel#SAMPLE_DATA}.
     *
     * @param file the JSONL file
     * @return this builder
     */
    public Builder data(Path file) {
      this.data = file;
      return this;
    }

    /**
     * How text data is read (JSONL without input_ids, or CSV): which fields hold the text, an
     * optional second text of a pair, and the label, and the class names when labels are names. The
     * model's tokenizer (its manifest's) encodes the text. Default: {@code text} and {@code label},
     * integer labels.
     *
     * @param fields the fields (TextDataset.Fields)
     * @return this builder
     */
    public Builder textFields(TextDataset.Fields fields) {
      this.textFields = fields;
      return this;
    }

    /**
     * @param tokens tokens per text example (longer texts are cut; default 128)
     * @return this builder
     */
    public Builder maxLength(int tokens) {
      this.maxLength = tokens;
      return this;
    }

    /**
     * @param multiple training batches' sequence lengths are rounded up to a multiple of this
     *     (default 1: each batch's longest example). Give the max length to make every text batch
     *     one shape, which a CUDA graph can replay
     * @return this builder
     */
    public Builder padToMultipleOf(int multiple) {
      this.padToMultipleOf = multiple;
      return this;
    }

    /**
     * Starts from a trained adapter instead of a fresh initialization (its rank must equal {@link
     * #rank(int)}).
     *
     * @param adapter an adapter in any format {@link LoraTrainer#loadAdapter} reads, or null
     * @return this builder
     */
    public Builder init(Path adapter) {
      this.init = adapter;
      return this;
    }

    /**
     * The method by its {@code --method} id, with that method's default settings.
     *
     * @param id one of {@link Methods#IDS}: lora, lora-sam, fmlora, eflat-lora, flat-lora, bi-lora,
     *     lora-obar, lora-nbar, head-only
     * @return this builder
     * @throws IllegalArgumentException for an unknown id; the message lists the known ones
     */
    public Builder method(String id) {
      this.method = Methods.byId(id).defaults();
      return this;
    }

    /**
     * The method with its settings, e.g. {@code new EFlatLora.Cfg(0.1, RhoSchedule.COSINE, 0.9,
     * NormScope.PER_LAYER)} (each method's {@code Cfg} validates itself; {@code
     * Methods.byId(id).defaults()} gives its defaults).
     *
     * @param cfg the method's settings
     * @return this builder
     */
    public Builder method(MethodConfig cfg) {
      this.method = cfg;
      return this;
    }

    /**
     * @param r the LoRA rank (at least 1)
     * @return this builder
     */
    public Builder rank(int r) {
      this.rank = r;
      return this;
    }

    /**
     * @param alpha LoRA alpha: the adapter adds (alpha / r) B A to each target weight
     * @return this builder
     */
    public Builder alpha(double alpha) {
      this.alpha = alpha;
      return this;
    }

    /**
     * @param on rank-stabilized LoRA (PEFT's use_rslora): the scale is alpha / sqrt(r)
     * @return this builder
     */
    public Builder rsLora(boolean on) {
      this.rsLora = on;
      return this;
    }

    /**
     * PEFT's rank_pattern: modules whose name matches a key (the name equals it, or ends with '.'
     * and it, read as a regex; the first matching key in order wins) get that rank instead of r.
     * Default: none.
     *
     * @param pattern module-name pattern to rank, in match order (a LinkedHashMap keeps it)
     * @return this builder
     */
    public Builder rankPattern(Map<String, Integer> pattern) {
      this.rankPattern = pattern;
      return this;
    }

    /**
     * PEFT's alpha_pattern: as {@link #rankPattern}, for alpha; a module's scale is its alpha over
     * its rank (or its square root under rsLoRA). Default: none.
     *
     * @param pattern module-name pattern to alpha, in match order
     * @return this builder
     */
    public Builder alphaPattern(Map<String, Double> pattern) {
      this.alphaPattern = pattern;
      return this;
    }

    /**
     * @param p PEFT's lora_dropout for a model prepared with the dropout branch, or null for the
     *     value its manifest records
     * @return this builder
     */
    public Builder loraDropout(Double p) {
      this.loraDropout = p;
      return this;
    }

    /**
     * @param lr the peak learning rate of AdamW (after warmup)
     * @return this builder
     */
    public Builder lr(double lr) {
      this.lr = lr;
      return this;
    }

    /**
     * Trains this many optimizer steps (instead of {@link #epochs(int)}).
     *
     * @param steps optimizer steps (at least 1)
     * @return this builder
     */
    public Builder steps(long steps) {
      this.steps = steps;
      this.epochs = 0;
      return this;
    }

    /**
     * Trains this many passes over the data (instead of {@link #steps(long)}).
     *
     * @param epochs epochs (at least 1)
     * @return this builder
     */
    public Builder epochs(int epochs) {
      this.epochs = epochs;
      this.steps = 0;
      return this;
    }

    /**
     * @param examples examples per micro-batch (at least 1)
     * @return this builder
     */
    public Builder batchSize(int examples) {
      this.batchSize = examples;
      return this;
    }

    /**
     * The one seed: initialization, data order and noise each get a stream split from it; two runs
     * with one seed on one device write bit-identical adapters.
     *
     * @param seed the seed
     * @return this builder
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Replaces every training setting at once (method, rank, alpha, optimizer, schedule, steps,
     * batches, seed) for those the builder has no setter for; later setters change it further.
     *
     * @param cfg a complete configuration, e.g. from {@link TrainConfig#defaults()}
     * @return this builder
     */
    public Builder config(TrainConfig cfg) {
      this.base = cfg;
      this.method = cfg.method();
      this.rank = cfg.rank();
      this.alpha = cfg.alpha();
      this.rsLora = cfg.rsLora();
      this.rankPattern = cfg.rankPattern();
      this.alphaPattern = cfg.alphaPattern();
      this.loraDropout = cfg.loraDropout();
      this.lr = cfg.lr();
      this.steps = cfg.steps();
      this.epochs = cfg.epochs();
      this.batchSize = cfg.batchSize();
      this.seed = cfg.seed();
      return this;
    }

    /**
     * Where the graphs run. Default: cpu.
     *
     * @param spec {@code cpu}, {@code cuda} or {@code cuda:N} (the CUDA execution provider, TF32
     *     on, as {@code --device} does)
     * @return this builder
     * @throws IllegalArgumentException for any other value
     */
    public Builder device(String spec) {
      this.device = ExecutionDevice.parse(spec, true);
      return this;
    }

    /**
     * An ONNX Runtime CUDA execution provider option, as {@code --cuda-option} passes it (e.g.
     * {@code gpu_mem_limit}); applied after the trainer's own. Needs a CUDA device, set before or
     * after.
     *
     * @param key the provider option's name
     * @param value its value
     * @return this builder
     */
    public Builder cudaOption(String key, String value) {
      cudaOptions.put(key, value);
      return this;
    }

    /**
     * bf16 mixed precision, as {@code --bf16}: the model's train_bf16 graph, which {@code prepare}
     * writes (matrix products in bfloat16, and with the fused kernels attention's softmax and the
     * MLP's GELU too; LoRA weights, optimizer and the rest float32). Needs a CUDA device, set
     * before or after. Default: off.
     *
     * @param on train in bf16
     * @return this builder
     */
    public Builder bf16(boolean on) {
      this.bf16 = on;
      return this;
    }

    /**
     * @param threads CPU intra-op threads, 0 for all cores (the default)
     * @return this builder
     */
    public Builder threads(int threads) {
      this.threads = threads;
      return this;
    }

    /**
     * Whether a run already in the run directory is replaced. Default: false, and such a run is an
     * error (a run directory is never written over unasked).
     *
     * @param replace true to replace it
     * @return this builder
     */
    public Builder overwrite(boolean replace) {
      this.overwrite = replace;
      return this;
    }

    /**
     * @param file where one JSON line per step goes (step, loss, lr, grad_norm, seconds), or null
     *     for none (the default)
     * @return this builder
     */
    public Builder trace(Path file) {
      this.trace = file;
      return this;
    }

    /**
     * @param log where progress lines go (a line every ~5% of the run); default: nowhere
     * @return this builder
     */
    public Builder log(PrintStream log) {
      this.log = log;
      return this;
    }

    /**
     * Validates the settings.
     *
     * @return the options
     * @throws IllegalArgumentException naming the first invalid setting and its value
     */
    public TrainOptions build() {
      if (maxLength < 1) {
        throw new IllegalArgumentException("maxLength must be >= 1, got " + maxLength);
      }
      if (padToMultipleOf < 1) {
        throw new IllegalArgumentException("padToMultipleOf must be >= 1, got " + padToMultipleOf);
      }
      if (textFields == null) {
        throw new IllegalArgumentException("textFields is null; give the text and label fields");
      }
      if (threads < 0) {
        throw new IllegalArgumentException("threads must be >= 0, got " + threads);
      }
      if (log == null) {
        throw new IllegalArgumentException("log is null; pass a PrintStream");
      }
      if (rankPattern == null || alphaPattern == null) {
        throw new IllegalArgumentException(
            (rankPattern == null ? "rankPattern" : "alphaPattern") + " is null; pass Map.of()");
      }
      return new TrainOptions(
          this,
          new TrainConfig(
              method,
              rank,
              alpha,
              rsLora,
              rankPattern,
              alphaPattern,
              loraDropout,
              lr,
              base.schedule(),
              base.warmupRatio(),
              base.weightDecay(),
              base.beta1(),
              base.beta2(),
              base.eps(),
              base.maxGradNorm(),
              steps,
              epochs,
              batchSize,
              base.gradAccum(),
              seed));
    }
  }
}
