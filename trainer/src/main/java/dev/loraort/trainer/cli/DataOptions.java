package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.CaptionedImages;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.data.TextDataset;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How to read text and images into model inputs: the options train, eval and sharpness share. */
final class DataOptions {
  @Option(
      names = "--tokenizer",
      paramLabel = "FILE",
      description = "tokenizer.json for text and captions; default: the manifest's")
  Path tokenizer;

  @Option(
      names = "--max-length",
      description = "tokens per text example (default: ${DEFAULT-VALUE})")
  int maxLength = 128;

  @Option(
      names = "--text-field",
      description = "text data: the text field (default: ${DEFAULT-VALUE})")
  String textField = "text";

  @Option(
      names = "--pair-field",
      description = "text data: the second text of a pair (none by default)")
  String pairField;

  @Option(
      names = "--label-field",
      description = "text data: the label field (default: ${DEFAULT-VALUE})")
  String labelField = "label";

  @Option(
      names = "--labels",
      paramLabel = "A,B,...",
      split = ",",
      description =
          "text data: the label field holds these class names (not numbers); their order gives"
              + " the class numbers. Kept in the adapter's metadata for eval and predict")
  java.util.List<String> labels;

  @Option(
      names = "--class-names",
      paramLabel = "SPEC",
      description =
          "IDX images: fashion-mnist, mnist, a file with one name per line, or names separated"
              + " by commas")
  String classNames;

  @Option(
      names = "--caption",
      paramLabel = "TEMPLATE",
      description = "IDX images: the caption, {} for the class name (default: ${DEFAULT-VALUE})")
  String caption = CaptionedImages.Captions.DEFAULT_TEMPLATE;

  /**
   * @param modelDir the model directory
   * @param m its manifest
   * @param data the data file
   * @return how to read it, or null if it is pre-tokenized JSONL
   * @throws IOException if the data or the tokenizer cannot be read
   */
  Examples.TextOptions textOptions(Path modelDir, Manifest m, Path data) throws IOException {
    return Examples.TextOptions.forData(
        data,
        modelDir,
        m,
        tokenizer,
        maxLength,
        new TextDataset.Fields(textField, pairField, labelField, labels),
        classNames == null ? null : CaptionedImages.Captions.parse(classNames, caption));
  }
}
