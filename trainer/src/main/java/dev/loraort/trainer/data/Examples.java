package dev.loraort.trainer.data;

import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Loads examples for a model: pre-tokenized JSONL as it is, text (JSONL/CSV) through a tokenizer,
 * or IDX images with class captions ({@link CaptionedImages}); and splits them into train and
 * validation sets.
 */
public final class Examples {
  /**
   * How to read text and captioned images.
   *
   * @param tokenizer the tokenizer.json
   * @param maxLength tokens per example
   * @param fields which fields hold text, pair and label
   * @param captions class names and caption template for IDX images, or null
   */
  public record TextOptions(
      Path tokenizer, int maxLength, TextDataset.Fields fields, CaptionedImages.Captions captions) {

    /**
     * How to read a data file: null when it is pre-tokenized JSONL, else these options with the
     * tokenizer the caller gives or, without one, the model's own (its manifest's file or Maven
     * entry).
     *
     * @param data the data file
     * @param modelDir the model directory
     * @param m its manifest
     * @param tokenizer a tokenizer.json, or null for the manifest's
     * @param maxLength tokens per example
     * @param fields which fields hold text, pair and label
     * @param captions class names and caption template for IDX images, or null
     * @return the options, or null
     * @throws IOException if the data cannot be read or no tokenizer can be found
     */
    public static TextOptions forData(
        Path data,
        Path modelDir,
        Manifest m,
        Path tokenizer,
        int maxLength,
        TextDataset.Fields fields,
        CaptionedImages.Captions captions)
        throws IOException {
      requireFile(data);
      if (!needsTokenizer(data)) {
        return null;
      }
      return new TextOptions(
          MavenJar.tokenizer(tokenizer, modelDir, m.tokenizer()), maxLength, fields, captions);
    }
  }

  private Examples() {}

  /**
   * @param file the data
   * @return true if the file needs a tokenizer: text (CSV, JSONL without input_ids) or IDX images
   *     (their captions)
   * @throws IOException if it cannot be read
   */
  public static boolean needsTokenizer(Path file) throws IOException {
    return IdxFile.isIdx(file) || TextDataset.isText(file);
  }

  /** Reading a directory fails with a bare "Is a directory" that names no file. */
  private static void requireFile(Path data) throws IOException {
    if (java.nio.file.Files.isDirectory(data)) {
      throw new IOException(
          data + " is a directory; the data is one file: JSONL, CSV/TSV/text, or IDX images");
    }
  }

  /**
   * @param file the data
   * @param m the model
   * @param text how to read text, or null for pre-tokenized data only
   * @return the examples
   * @throws IOException if the file is malformed, or holds text or images and no tokenizer was
   *     given
   */
  public static List<JsonlDataset.Example> load(Path file, Manifest m, TextOptions text)
      throws IOException {
    requireFile(file);
    boolean images = IdxFile.isIdx(file);
    if (!images && !TextDataset.isText(file)) {
      return JsonlDataset.read(file, m);
    }
    if (text == null) {
      throw new IOException(
          file
              + " holds text or images to caption, and no text options were given (the tokenizer,"
              + " the text and label fields)");
    }
    if (images && text.captions() == null) {
      throw new IOException(
          file + " holds IDX images: name their classes (--class-names fashion-mnist, ...)");
    }
    InputLimits limits = InputLimits.of(m);
    List<String> names = text.fields() == null ? null : text.fields().labelNames();
    if (names != null && limits.classes() > 0 && names.size() != limits.classes()) {
      throw new IOException(
          file
              + ": --labels names "
              + names.size()
              + " classes "
              + names
              + ", the model "
              + m.id()
              + " has "
              + limits.classes()
              + " (a classification head of another size: prepare the model again with"
              + " --num-labels "
              + names.size()
              + ")");
    }
    List<JsonlDataset.Example> out;
    try (TextEncoder enc = TextEncoder.open(text.tokenizer(), text.maxLength())) {
      out =
          images
              ? CaptionedImages.load(file, text.captions(), enc, m)
              : enc.encode(TextDataset.read(file, fieldsFor(text.fields(), m)), m);
    }
    for (int i = 0; i < out.size(); i++) {
      limits.check(out.get(i).values(), file + ": record " + (i + 1));
    }
    return out;
  }

  /** A model without a labels input (an embedding model) reads no label field. */
  private static TextDataset.Fields fieldsFor(TextDataset.Fields f, Manifest m) {
    boolean labels = m.inputs().stream().anyMatch(s -> s.name().equals("labels"));
    return labels ? f : f.withoutLabel();
  }

  /**
   * Drops exact duplicates (same model inputs, labels aside; the first is kept), then splits in a
   * seeded random order.
   *
   * @param examples the examples
   * @param validationFraction the share held out, in [0, 1)
   * @param seed the split's seed
   * @return the split
   */
  public static Split<JsonlDataset.Example> split(
      List<JsonlDataset.Example> examples, double validationFraction, long seed) {
    return Split.of(examples, Examples::inputsKey, validationFraction, seed);
  }

  /** The example's values by name, targets left out, with arrays compared by content. */
  private static List<Object> inputsKey(JsonlDataset.Example e) {
    List<Object> key = new ArrayList<>();
    for (Map.Entry<String, Object> v : new TreeMap<>(e.values()).entrySet()) {
      if (v.getKey().equals("labels") || v.getKey().equals(CaptionedImages.CLASS_INDEX)) {
        continue;
      }
      key.add(v.getKey());
      key.add(new ContentKey(v.getValue()));
    }
    return key;
  }

  /** A value compared by content, primitive arrays included. */
  private record ContentKey(Object value) {
    @Override
    public boolean equals(Object o) {
      return o instanceof ContentKey k
          && Arrays.deepEquals(new Object[] {value}, new Object[] {k.value});
    }

    @Override
    public int hashCode() {
      return Arrays.deepHashCode(new Object[] {value});
    }
  }
}
