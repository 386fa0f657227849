package dev.loraort.builder;

import dev.loraort.builder.heads.Heads;
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
 * @param task {@code seq-cls} or {@code embedding}
 * @param numLabels classes of a new classification head (seq-cls)
 * @param pooling how token states are pooled (a new seq-cls head; embeddings: mean for
 *     sentence-transformers models such as MiniLM and E5, cls for BGE)
 * @param head the new classification head's architecture
 * @param targets which linear layers get LoRA; null for PEFT's default for the architecture
 * @param modulesToSave modules of the model trained in full alongside the adapter (PEFT's
 *     modules_to_save); for a model that already outputs logits, its classifier
 * @param rank default LoRA rank written to the manifest (the graphs take any)
 * @param alpha default LoRA alpha
 * @param seed seed of a new head's initial values
 * @param hiddenOutput the model output holding token states [batch, seq, hidden], or null to find
 *     it
 * @param tokenizer a tokenizer.json to ship in the directory, or null
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
    List<String> modulesToSave,
    int rank,
    double alpha,
    long seed,
    String hiddenOutput,
    Path tokenizer,
    boolean overwrite) {

  /** Tasks prepare builds. */
  public static final List<String> TASKS = List.of("seq-cls", "embedding");

  /** Validates and copies. */
  public PrepareConfig {
    modulesToSave = List.copyOf(modulesToSave);
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
        List.of(),
        8,
        16,
        0,
        null,
        null,
        false);
  }
}
