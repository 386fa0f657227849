package dev.loraort.trainer.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns text rows into the model's batch inputs with a Hugging Face tokenizer.json (WordPiece for
 * BERT/MiniLM, byte-level BPE for GPT-2/RoBERTa) through DJL's binding of the Rust tokenizers:
 * special tokens per the tokenizer's template, truncation to {@code maxLength}, no padding (the
 * batcher pads). Owns the native tokenizer; close it.
 */
public final class TextEncoder implements AutoCloseable {

  static {
    // DJL picks a CUDA build of its tokenizer library when it sees a GPU and downloads it, which
    // fails offline; tokenizing is CPU work and the jar's CPU build is all we need
    if (System.getenv("RUST_FLAVOR") == null && System.getProperty("RUST_FLAVOR") == null) {
      System.setProperty("RUST_FLAVOR", "cpu");
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final Path source;

  private TextEncoder(HuggingFaceTokenizer tokenizer, Path source) {
    this.tokenizer = tokenizer;
    this.source = source;
  }

  /**
   * @param tokenizerJson a tokenizer.json
   * @param maxLength tokens per example, special tokens included
   * @return the encoder
   * @throws IOException if the file cannot be loaded
   */
  public static TextEncoder open(Path tokenizerJson, int maxLength) throws IOException {
    if (maxLength < 2) {
      throw new IllegalArgumentException("max length must be >= 2, got " + maxLength);
    }
    try {
      return new TextEncoder(
          HuggingFaceTokenizer.builder()
              .optTokenizerPath(tokenizerJson)
              .optMaxLength(maxLength)
              .optTruncation(true)
              .optPadding(false)
              .build(),
          tokenizerJson);
    } catch (RuntimeException e) {
      throw new IOException(
          tokenizerJson + ": not a loadable tokenizer.json: " + e.getMessage(), e);
    }
  }

  /**
   * @param rows text rows
   * @param m the model (which inputs it takes)
   * @return one example per row, with input_ids, attention_mask, token_type_ids where the model has
   *     them, and labels; for models with {@code positive_*} inputs (embedding models) the pair's
   *     second text encoded on its own into those
   */
  public List<JsonlDataset.Example> encode(List<TextDataset.Row> rows, Manifest m) {
    boolean separate = m.inputs().stream().anyMatch(s -> s.name().startsWith(TensorNames.POSITIVE));
    List<JsonlDataset.Example> out = new ArrayList<>();
    for (TextDataset.Row r : rows) {
      if (separate && r.pair() == null) {
        throw new IllegalArgumentException(
            source
                + ": "
                + m.id()
                + " trains on text pairs, each text encoded on its own: name the second text's"
                + " field with --pair-field");
      }
      // an embedding model encodes the two texts separately; a classifier reads them as one pair
      Encoding e =
          r.pair() == null || separate
              ? tokenizer.encode(r.text())
              : tokenizer.encode(r.text(), r.pair());
      Encoding second = separate ? tokenizer.encode(r.pair()) : null;
      Map<String, Object> v = new LinkedHashMap<>();
      for (Manifest.IoSpec s : m.inputs()) {
        boolean pos = s.name().startsWith(TensorNames.POSITIVE);
        Encoding x = pos ? second : e;
        switch (pos ? s.name().substring(TensorNames.POSITIVE.length()) : s.name()) {
          case "input_ids":
            v.put(s.name(), x.getIds());
            break;
          case "attention_mask":
            v.put(s.name(), x.getAttentionMask());
            break;
          case "token_type_ids":
            v.put(s.name(), x.getTypeIds());
            break;
          case "labels":
            v.put(s.name(), new long[] {r.label()});
            break;
          default:
            throw new IllegalArgumentException(
                source + ": text data cannot fill the model's input " + s.name());
        }
      }
      out.add(new JsonlDataset.Example(v));
    }
    return out;
  }

  /**
   * @param ids token ids
   * @return their text (special tokens skipped)
   */
  public String decode(long[] ids) {
    return tokenizer.decode(ids, true);
  }

  /**
   * @param text one text
   * @return its token ids and attention mask, special tokens included
   */
  public long[][] tokens(String text) {
    Encoding e = tokenizer.encode(text);
    return new long[][] {e.getIds(), e.getAttentionMask()};
  }

  /** Releases the native tokenizer; idempotent. */
  @Override
  public void close() {
    tokenizer.close();
  }
}
