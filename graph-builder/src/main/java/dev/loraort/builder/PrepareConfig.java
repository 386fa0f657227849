package dev.loraort.builder;

import dev.loraort.builder.heads.Heads;
import dev.loraort.builder.lora.LayerFilter;
import dev.loraort.builder.lora.Targets;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code prepare} builds: validated on construction, defaults in one place ({@link
 * #defaults}).
 *
 * @param onnx the plain inference model
 * @param origin where the model came from, for provenance (the file, or the jar it was taken from)
 * @param out the model directory to write
 * @param id the model id written to the manifest
 * @param task {@code seq-cls}, {@code embedding}, {@code causal-lm} (vision-language models too) or
 *     {@code contrastive} (CLIP)
 * @param numLabels classes of a new classification head (seq-cls)
 * @param pooling how token states are pooled (a new seq-cls head; embeddings: mean for
 *     sentence-transformers models such as MiniLM and E5, cls for BGE)
 * @param head the new classification head's architecture
 * @param targets which linear layers get LoRA; null for PEFT's default for the architecture
 * @param layers which layers of the targets keep it (PEFT's layers_to_transform)
 * @param modulesToSave modules of the model trained in full alongside the adapter (PEFT's
 *     modules_to_save); for a model that already outputs logits, its classifier
 * @param rank default LoRA rank written to the manifest (the graphs take any)
 * @param alpha default LoRA alpha
 * @param loraDropout the train graphs drop elements of each LoRA branch's input (PEFT's
 *     lora_dropout, fed at train time); this value is the manifest's default; null: no dropout
 *     branch (the graphs stay as fast as without)
 * @param seed seed of a new head's initial values
 * @param hiddenOutput the model output holding token states [batch, seq, hidden], or null to find
 *     it
 * @param tokenizer a tokenizer.json to ship in the directory, or null
 * @param hfConfig the model's Hugging Face config.json, recorded as the manifest's source.config
 *     (Qwen2-VL's inputs need its image_token_id and spatial_merge_size), or null
 * @param recomputeAttention the train graphs recompute attention's probabilities in the backward
 *     instead of keeping them from the forward: less memory, one more score product per layer
 *     ({@link dev.loraort.builder.autodiff.AttentionRecompute})
 * @param overwrite replace an existing directory
 */
public record PrepareConfig(
    Path onnx,
    String origin,
    Path out,
    String id,
    String task,
    int numLabels,
    Heads.Pooling pooling,
    Heads.Head head,
    Targets targets,
    LayerFilter layers,
    List<String> modulesToSave,
    int rank,
    double alpha,
    Double loraDropout,
    long seed,
    String hiddenOutput,
    Path tokenizer,
    Path hfConfig,
    boolean recomputeAttention,
    boolean overwrite) {

  /** Tasks prepare builds. */
  public static final List<String> TASKS =
      List.of("seq-cls", "embedding", "causal-lm", "contrastive");

  /** Validates and copies. */
  public PrepareConfig {
    modulesToSave = List.copyOf(modulesToSave);
    if (layers == null) {
      throw new BuildException("prepare: layers is null; LayerFilter.ALL adapts every layer");
    }
    if (!TASKS.contains(task)) {
      throw new BuildException("prepare: task must be one of " + TASKS + ", got '" + task + "'");
    }
    if (task.equals("seq-cls") && numLabels < 2) {
      throw new BuildException("prepare: --num-labels must be >= 2, got " + numLabels);
    }
    if (rank < 1) {
      throw new BuildException("prepare: --rank must be >= 1, got " + rank);
    }
    if (!(alpha > 0)) {
      throw new BuildException("prepare: --alpha must be > 0, got " + alpha);
    }
    if (loraDropout != null && !(loraDropout >= 0 && loraDropout < 1)) {
      throw new BuildException("prepare: --lora-dropout must be in [0, 1), got " + loraDropout);
    }
    if (id == null || id.isBlank()) {
      throw new BuildException("prepare: the model id is empty");
    }
  }

  /**
   * @param onnx the model
   * @param out the directory
   * @param task the task
   * @return the defaults: id from the file name, 2 labels, mean pooling, linear head, PEFT's
   *     default targets for the architecture, rank 8, alpha 16, seed 0
   */
  public static PrepareConfig defaults(Path onnx, Path out, String task) {
    String file = onnx.getFileName().toString();
    String id = file.endsWith(".onnx") ? file.substring(0, file.length() - 5) : file;
    return new PrepareConfig(
        onnx,
        onnx.toAbsolutePath().toString(),
        out,
        id,
        task,
        2,
        Heads.Pooling.MEAN,
        Heads.Head.LINEAR,
        null,
        LayerFilter.ALL,
        List.of(),
        8,
        16,
        null,
        0,
        null,
        null,
        null,
        false,
        false);
  }

  /**
   * @return a builder starting from this configuration
   */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Changes some settings of a configuration; {@link #build} validates the result. */
  public static final class Builder {
    private Path onnx;
    private String origin;
    private Path out;
    private String id;
    private String task;
    private int numLabels;
    private Heads.Pooling pooling;
    private Heads.Head head;
    private Targets targets;
    private LayerFilter layers;
    private List<String> modulesToSave;
    private int rank;
    private double alpha;
    private Double loraDropout;
    private long seed;
    private String hiddenOutput;
    private Path tokenizer;
    private Path hfConfig;
    private boolean recomputeAttention;
    private boolean overwrite;

    private Builder(PrepareConfig c) {
      onnx = c.onnx;
      origin = c.origin;
      out = c.out;
      id = c.id;
      task = c.task;
      numLabels = c.numLabels;
      pooling = c.pooling;
      head = c.head;
      targets = c.targets;
      layers = c.layers;
      modulesToSave = c.modulesToSave;
      rank = c.rank;
      alpha = c.alpha;
      loraDropout = c.loraDropout;
      seed = c.seed;
      hiddenOutput = c.hiddenOutput;
      tokenizer = c.tokenizer;
      hfConfig = c.hfConfig;
      recomputeAttention = c.recomputeAttention;
      overwrite = c.overwrite;
    }

    /**
     * @param v where the model came from
     * @return this
     */
    public Builder origin(String v) {
      origin = v;
      return this;
    }

    /**
     * @param v the model id
     * @return this
     */
    public Builder id(String v) {
      id = v;
      return this;
    }

    /**
     * @param v classes of a new head
     * @return this
     */
    public Builder numLabels(int v) {
      numLabels = v;
      return this;
    }

    /**
     * @param v the pooling
     * @return this
     */
    public Builder pooling(Heads.Pooling v) {
      pooling = v;
      return this;
    }

    /**
     * @param v a new head's architecture
     * @return this
     */
    public Builder head(Heads.Head v) {
      head = v;
      return this;
    }

    /**
     * @param v which layers of the targets keep their LoRA
     * @return this builder
     */
    public Builder layers(LayerFilter v) {
      layers = v;
      return this;
    }

    /**
     * @param v LoRA targets (null: PEFT's default)
     * @return this
     */
    public Builder targets(Targets v) {
      targets = v;
      return this;
    }

    /**
     * @param v modules trained in full
     * @return this
     */
    public Builder modulesToSave(List<String> v) {
      modulesToSave = v;
      return this;
    }

    /**
     * @param r default rank
     * @param a default alpha
     * @return this
     */
    public Builder rankAlpha(int r, double a) {
      rank = r;
      alpha = a;
      return this;
    }

    /**
     * @param v LoRA dropout's default p (the graphs get the dropout branch), or null for none
     * @return this
     */
    public Builder loraDropout(Double v) {
      loraDropout = v;
      return this;
    }

    /**
     * @param v a new head's seed
     * @return this
     */
    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /**
     * @param v the output holding token states, or null
     * @return this
     */
    public Builder hiddenOutput(String v) {
      hiddenOutput = v;
      return this;
    }

    /**
     * @param v a tokenizer.json to ship, or null
     * @return this
     */
    public Builder tokenizer(Path v) {
      tokenizer = v;
      return this;
    }

    /**
     * @param v the model's config.json, or null
     * @return this
     */
    public Builder hfConfig(Path v) {
      hfConfig = v;
      return this;
    }

    /**
     * @param v recompute attention's probabilities in the backward
     * @return this
     */
    public Builder recomputeAttention(boolean v) {
      recomputeAttention = v;
      return this;
    }

    /**
     * @param v replace an existing directory
     * @return this
     */
    public Builder overwrite(boolean v) {
      overwrite = v;
      return this;
    }

    /**
     * @return the validated configuration
     * @throws BuildException naming the bad setting
     */
    public PrepareConfig build() {
      return new PrepareConfig(
          onnx,
          origin,
          out,
          id,
          task,
          numLabels,
          pooling,
          head,
          targets,
          layers,
          modulesToSave,
          rank,
          alpha,
          loraDropout,
          seed,
          hiddenOutput,
          tokenizer,
          hfConfig,
          recomputeAttention,
          overwrite);
    }
  }
}
