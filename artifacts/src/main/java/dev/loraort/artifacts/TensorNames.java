package dev.loraort.artifacts;

/** The contract's tensor names (docs/graph-contract.md section 2), built in this one place. */
public final class TensorNames {
  /** Input: the LoRA scale s, float32 []. */
  public static final String LORA_SCALE = "lora_scale";

  /** Input of train_rwp graphs: sigma_t of the filter-wise noise, float32 []. */
  public static final String RWP_SIGMA = "rwp_sigma";

  /**
   * Input of train graphs prepared with LoRA dropout: the probability p of zeroing an element of a
   * LoRA branch's input, float32 [] (0: no dropout).
   */
  public static final String LORA_DROPOUT = "lora_dropout";

  /**
   * Input of train graphs prepared with LoRA dropout: the step's mask seed, int64 [] in [0,
   * 2^31-1).
   */
  public static final String LORA_DROPOUT_SEED = "lora_dropout_seed";

  /** Output of train graphs: the mean loss, float32 []. */
  public static final String LOSS = "loss";

  /** Output of infer graphs. */
  public static final String LOGITS = "logits";

  /**
   * Output of embedding models' infer graphs: the L2-normalized sentence embedding [batch, dim].
   */
  public static final String SENTENCE_EMBEDDING = "sentence_embedding";

  /** Prefix of the inputs that carry a text pair's second text (embedding models' train graphs). */
  public static final String POSITIVE = "positive_";

  private static final String GRAD_PREFIX = "grad.";

  private TensorNames() {}

  /**
   * @param module Hugging Face module path
   * @return {@code <module>.lora_A.weight}, shape [r, in]
   */
  public static String loraA(String module) {
    return module + ".lora_A.weight";
  }

  /**
   * @param module Hugging Face module path
   * @return {@code <module>.lora_B.weight}, shape [out, r]
   */
  public static String loraB(String module) {
    return module + ".lora_B.weight";
  }

  /**
   * @param input a differentiated input's name
   * @return the name of its gradient output, {@code grad.<input>}
   */
  public static String grad(String input) {
    return GRAD_PREFIX + input;
  }
}
