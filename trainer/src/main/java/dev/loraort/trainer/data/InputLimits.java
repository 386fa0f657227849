package dev.loraort.trainer.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.util.Map;
import java.util.Set;

/**
 * What a model accepts in a batch, from its manifest, checked on every example before step 1: token
 * ids in [0, vocabulary), class labels in [0, classes) or -100, token labels in [0, vocabulary) or
 * -100, sequences no longer than the model's positions. An out-of-range id would otherwise fail
 * mid-run with an error that names the graph (CPU EP) or read outside the embedding table (CUDA
 * EP), and a label of -1 would train as the last class (a negative index counts from the end).
 *
 * @param vocab the vocabulary size, or 0 if the manifest does not say
 * @param classes the classes of a classification head (its logits' last dim), or 0
 * @param maxLength the longest sequence the position embeddings cover, or 0 if unknown
 */
public record InputLimits(long vocab, long classes, long maxLength) {
  /** The label value that losses ignore (PyTorch's ignore_index). */
  public static final long IGNORE = -100;

  private static final Set<String> TOKEN_INPUTS =
      Set.of("input_ids", TensorNames.POSITIVE + "input_ids");

  /**
   * @param m the model
   * @return its limits, from the Hugging Face config the manifest carries (the text tower's for
   *     CLIP and Qwen2-VL) and the infer graph's logits
   */
  public static InputLimits of(Manifest m) {
    JsonObject c = m.hfConfig() == null ? new JsonObject() : m.hfConfig();
    JsonObject text =
        c.has("text_config") && c.get("text_config").isJsonObject()
            ? c.getAsJsonObject("text_config")
            : c;
    long vocab = number(text, "vocab_size", number(c, "vocab_size", 0));
    long positions = number(text, "n_positions", number(text, "max_position_embeddings", 0));
    String type = c.has("model_type") ? c.get("model_type").getAsString() : "";
    if (positions > 0 && Set.of("roberta", "xlm-roberta", "camembert").contains(type)) {
      // RoBERTa's positions start after the padding index: 514 rows cover 512 tokens
      positions -= number(c, "pad_token_id", 1) + 1;
    }
    long classes = 0;
    if (m.task().equals("seq-cls")) {
      for (Manifest.IoSpec s : m.inferOutputs()) {
        if (s.name().equals(TensorNames.LOGITS) && s.shape().size() == 2) {
          Manifest.Dim d = s.shape().get(1);
          classes = d.symbolic() ? 0 : d.size();
        }
      }
    }
    return new InputLimits(vocab, classes, positions);
  }

  private static long number(JsonObject o, String key, long otherwise) {
    JsonElement e = o.get(key);
    return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
        ? e.getAsLong()
        : otherwise;
  }

  /**
   * @param values one example's values by input name
   * @param at where the example is, for the message (file:line, or file and record)
   * @throws IOException naming the place, the input, the value and the allowed range
   */
  public void check(Map<String, Object> values, String at) throws IOException {
    for (Map.Entry<String, Object> e : values.entrySet()) {
      if (!(e.getValue() instanceof long[] v)) {
        continue;
      }
      String name = e.getKey();
      if (TOKEN_INPUTS.contains(name)) {
        if (maxLength > 0 && v.length > maxLength) {
          throw new IOException(
              at
                  + ": "
                  + name
                  + " has "
                  + v.length
                  + " tokens; the model's positions cover "
                  + maxLength
                  + " (truncate the text, e.g. --max-length "
                  + maxLength
                  + ")");
        }
        for (long id : v) {
          if (id < 0 || vocab > 0 && id >= vocab) {
            throw new IOException(
                at
                    + ": "
                    + name
                    + " holds token id "
                    + id
                    + "; the model's vocabulary is 0.."
                    + (vocab > 0 ? Long.toString(vocab - 1) : "")
                    + (vocab > 0 ? " (a tokenizer of another model?)" : ""));
          }
        }
      } else if (name.equals("labels")) {
        long top = v.length == 1 && classes > 0 ? classes : vocab;
        String what = v.length == 1 && classes > 0 ? "classes 0.." : "token ids 0..";
        for (long l : v) {
          if (l != IGNORE && (l < 0 || top > 0 && l >= top)) {
            throw new IOException(
                at
                    + ": label "
                    + l
                    + " is outside the model's "
                    + what
                    + (top > 0 ? Long.toString(top - 1) : "")
                    + " (-100 marks a label to ignore)");
          }
        }
      }
    }
  }
}
