package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Also lends other tests its IDX writer. */
public class CaptionedImagesTest {
  static final Path CLIP = Path.of("..", "onnx-models", "tiny-clip");
  static final CaptionedImages.Captions FASHION =
      new CaptionedImages.Captions(
          List.of("t-shirt/top", "trouser", "sneaker"), CaptionedImages.Captions.DEFAULT_TEMPLATE);

  @TempDir Path dir;

  /** Writes an IDX file of unsigned bytes, gzipped when the name ends in .gz. */
  public static void writeIdx(Path f, int[] dims, byte[] values) throws IOException {
    try (OutputStream raw = Files.newOutputStream(f);
        OutputStream z = f.toString().endsWith(".gz") ? new GZIPOutputStream(raw) : raw;
        DataOutputStream out = new DataOutputStream(z)) {
      out.writeInt(0x0800 | dims.length);
      for (int d : dims) {
        out.writeInt(d);
      }
      out.write(values);
    }
  }

  /** Images [n, rows, cols] and their labels, named as MNIST names them. */
  public static Path writeImages(Path dir, int rows, int cols, byte[] pixels, byte[] labels)
      throws IOException {
    Path images = dir.resolve("train-images-idx3-ubyte.gz");
    writeIdx(images, new int[] {labels.length, rows, cols}, pixels);
    writeIdx(dir.resolve("train-labels-idx1-ubyte"), new int[] {labels.length}, labels);
    return images;
  }

  @Test
  void imagesBecomeCaptionedNormalisedPixels() throws IOException {
    // two 2x2 images, left column black and right column white; classes 2 and 0
    byte w = (byte) 255;
    Path images = writeImages(dir, 2, 2, new byte[] {0, w, 0, w, 0, w, 0, w}, new byte[] {2, 0});
    assertThat(IdxFile.isIdx(images)).isTrue();
    assertThat(IdxFile.isIdx(CLIP.resolve("manifest.json"))).isFalse();
    Manifest m = Manifest.read(CLIP);
    List<JsonlDataset.Example> ex;
    try (TextEncoder enc = TextEncoder.open(CLIP.resolve("tokenizer.json"), 16)) {
      ex = CaptionedImages.load(images, FASHION, enc, m);
      // "a photo of a sneaker." -> bos, 6 known words and the period, eos (CLIP pools at eos)
      assertThat(ex.get(0).values().get("input_ids")).isEqualTo(enc.tokens(FASHION.caption(2))[0]);
    }
    long[] ids = (long[]) ex.get(0).values().get("input_ids");
    assertThat(ids).hasSize(8).startsWith(0L).endsWith(999L).doesNotContain(2L); // 2 = [UNK]
    assertThat(ex.get(1).values().get(CaptionedImages.CLASS_INDEX)).isEqualTo(new long[] {0});

    Map<String, Tensor> batch = Batcher.inOrder(ex, m, 2).next();
    assertThat(batch.keySet()).containsExactly("input_ids", "attention_mask", "pixel_values");
    Tensor px = batch.get("pixel_values");
    assertThat(px.shape()).containsExactly(2, 3, 32, 32);
    float[] v = px.floats();
    // half-pixel bilinear from 2 to 32 columns: column 0 samples the black pixel, column 31 the
    // white one, column 16 is 0.53125 of the way (sx = 16.5 * 2 / 32 - 0.5)
    float[] mean = {0.48145466f, 0.4578275f, 0.40821073f};
    float[] std = {0.26862954f, 0.26130258f, 0.27577711f};
    for (int c = 0; c < 3; c++) {
      int row = c * 1024 + 5 * 32;
      assertThat(v[row])
          .isCloseTo((0 - mean[c]) / std[c], org.assertj.core.data.Offset.offset(1e-6f));
      assertThat(v[row + 31])
          .isCloseTo((1 - mean[c]) / std[c], org.assertj.core.data.Offset.offset(1e-6f));
      assertThat(v[row + 16])
          .isCloseTo((0.53125f - mean[c]) / std[c], org.assertj.core.data.Offset.offset(1e-5f));
    }
  }

  @Test
  void badFilesAreNamed() throws IOException {
    Manifest m = Manifest.read(CLIP);
    Path images = writeImages(dir, 1, 1, new byte[] {1, 2}, new byte[] {0, 7});
    try (TextEncoder enc = TextEncoder.open(CLIP.resolve("tokenizer.json"), 16)) {
      assertThatThrownBy(() -> CaptionedImages.load(images, FASHION, enc, m))
          .hasMessageContaining("train-labels-idx1-ubyte: item 1 has label 7")
          .hasMessageContaining("only 3 class names");
      Files.delete(dir.resolve("train-labels-idx1-ubyte"));
      assertThatThrownBy(() -> CaptionedImages.load(images, FASHION, enc, m))
          .hasMessageContaining("need their labels beside them, as train-labels-idx1-ubyte");
      Path roberta = Path.of("..", "onnx-models", "tiny-roberta-cls");
      writeIdx(dir.resolve("train-labels-idx1-ubyte"), new int[] {2}, new byte[] {0, 1});
      assertThatThrownBy(() -> CaptionedImages.load(images, FASHION, enc, Manifest.read(roberta)))
          .hasMessageContaining("captioned images fit a contrastive model");
    }
    Path cut = dir.resolve("cut-images-idx3-ubyte");
    writeIdx(cut, new int[] {5, 28, 28}, new byte[100]);
    assertThatThrownBy(() -> IdxFile.read(cut))
        .hasMessageContaining(cut + ": cut short, 100 of 3920");
    Path notIdx = dir.resolve("x.idx");
    Files.write(notIdx, new byte[] {0, 0, 0x0D, 1, 0, 0, 0, 0});
    assertThat(IdxFile.isIdx(notIdx)).isFalse();
    assertThatThrownBy(() -> IdxFile.read(notIdx))
        .hasMessageContaining(notIdx + ": not an IDX file of unsigned bytes");
  }

  @Test
  void classNamesFromPresetListOrFile() throws IOException {
    assertThat(CaptionedImages.Captions.parse("fashion-mnist", "{}").classNames())
        .hasSize(10)
        .contains("ankle boot");
    assertThat(CaptionedImages.Captions.parse("cat, dog", "a {}").caption(1)).isEqualTo("a dog");
    Path f = dir.resolve("names.txt");
    Files.writeString(f, "zero\n\none\n");
    assertThat(CaptionedImages.Captions.parse(f.toString(), "{}").classNames())
        .containsExactly("zero", "one");
    assertThatThrownBy(() -> CaptionedImages.Captions.parse("cifar", "{}"))
        .hasMessageContaining("not a preset");
    assertThatThrownBy(() -> CaptionedImages.Captions.parse("mnist", "a photo"))
        .hasMessageContaining("has no {}");
  }

  @Test
  void splitDropsDuplicateInputsAndIsSeeded() {
    List<JsonlDataset.Example> ex = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ex.add(example(new long[] {0, 5 + i, 2}, i % 2));
    }
    ex.add(example(new long[] {0, 5, 2}, 1)); // the first one's inputs with another label: dropped
    Split<JsonlDataset.Example> s = Examples.split(ex, 0.25, 3);
    assertThat(s.duplicates()).isEqualTo(1);
    assertThat(s.validation()).hasSize(5);
    assertThat(s.train()).hasSize(15).doesNotContainAnyElementsOf(s.validation());
    assertThat(Examples.split(ex, 0.25, 3)).isEqualTo(s);
    assertThat(Examples.split(ex, 0.25, 4).validation()).isNotEqualTo(s.validation());
  }

  private static JsonlDataset.Example example(long[] ids, long label) {
    return new JsonlDataset.Example(Map.of("input_ids", ids, "labels", new long[] {label}));
  }
}
