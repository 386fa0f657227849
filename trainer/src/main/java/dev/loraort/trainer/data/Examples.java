package dev.loraort.trainer.data;

import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads examples for a model: pre-tokenized JSONL as it is, or text (JSONL/CSV) through a
 * tokenizer.
 */
public final class Examples {
  /**
   * How to read text data.
   *
   * @param tokenizer the tokenizer.json
   * @param maxLength tokens per example
   * @param fields which fields hold text, pair and label
   */
  public record TextOptions(Path tokenizer, int maxLength, TextDataset.Fields fields) {}

  private Examples() {}

  /**
   * @param file the data
   * @param m the model
   * @param text how to read text, or null for pre-tokenized data only
   * @return the examples
   * @throws IOException if the file is malformed, or holds text and no tokenizer was given
   */
  public static List<JsonlDataset.Example> load(Path file, Manifest m, TextOptions text)
      throws IOException {
    if (!TextDataset.isText(file)) {
      return JsonlDataset.read(file, m);
    }
    if (text == null) {
      throw new IOException(
          file + " holds text: give the model a tokenizer (manifest tokenizer, or --tokenizer)");
    }
    try (TextEncoder enc = TextEncoder.open(text.tokenizer(), text.maxLength())) {
      return enc.encode(TextDataset.read(file, text.fields()), m);
    }
  }
}
