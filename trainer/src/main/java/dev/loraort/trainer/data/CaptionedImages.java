package dev.loraort.trainer.data;

import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Labelled grayscale images (IDX: MNIST, Fashion-MNIST) as contrastive image-caption pairs for a
 * CLIP-family model: each image is paired with its class's caption ("a photo of a sneaker.").
 * Images are resized bilinearly to the model's pixel_values size, repeated across its channels and
 * normalised with CLIP's mean and std. Each example also carries its class ({@link #CLASS_INDEX})
 * and every class's caption ({@link #CLASS_PROMPTS}), which zero-shot evaluation uses; no model
 * takes them as inputs.
 */
public final class CaptionedImages {
  /** The example value holding the class index (a long[1]); no model takes it as an input. */
  public static final String CLASS_INDEX = "class_index";

  /** The example value holding every class's caption tokens ({@link ClassPrompts}, shared). */
  public static final String CLASS_PROMPTS = "class_prompts";

  /**
   * The tokenized caption of every class, in class order: the candidates of zero-shot
   * classification. One instance is shared by all examples of a data set.
   *
   * @param inputIds each class's token ids
   * @param attentionMasks each class's attention mask
   */
  public record ClassPrompts(List<long[]> inputIds, List<long[]> attentionMasks) {
    /** Copies the lists (the arrays are shared, never written). */
    public ClassPrompts {
      inputIds = List.copyOf(inputIds);
      attentionMasks = List.copyOf(attentionMasks);
    }
  }

  /** CLIP's image normalisation (OpenAI CLIP, also used by Qwen2-VL's processor). */
  private static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};

  private static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

  /**
   * What each class is called and how a caption is made from its name.
   *
   * @param classNames the name of class 0, 1, ...
   * @param template a caption with {@code {}} where the class name goes
   */
  public record Captions(List<String> classNames, String template) {
    /** The default caption template. */
    public static final String DEFAULT_TEMPLATE = "a photo of a {}.";

    private static final Map<String, List<String>> PRESETS =
        Map.of(
            "fashion-mnist",
            List.of(
                "t-shirt/top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle boot"),
            "mnist",
            List.of(
                "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"));

    /** Validates and copies. */
    public Captions {
      classNames = List.copyOf(classNames);
      if (classNames.isEmpty()) {
        throw new IllegalArgumentException("no class names");
      }
      if (!template.contains("{}")) {
        throw new IllegalArgumentException(
            "caption template '" + template + "' has no {} for the class name");
      }
    }

    /**
     * @param spec a preset ({@code fashion-mnist}, {@code mnist}), a file with one name per line,
     *     or names separated by commas
     * @param template the caption template
     * @return the captions
     * @throws IOException if the file cannot be read
     */
    public static Captions parse(String spec, String template) throws IOException {
      if (PRESETS.containsKey(spec)) {
        return new Captions(PRESETS.get(spec), template);
      }
      Path file = Path.of(spec);
      if (!spec.contains(",") && Files.isRegularFile(file)) {
        List<String> names = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (!line.isBlank()) {
            names.add(line.strip());
          }
        }
        return new Captions(names, template);
      }
      if (!spec.contains(",")) {
        throw new IllegalArgumentException(
            "class names '"
                + spec
                + "': not a preset "
                + PRESETS.keySet()
                + ", a file, or a comma-separated list");
      }
      return new Captions(Arrays.stream(spec.split(",")).map(String::strip).toList(), template);
    }

    /**
     * @param cls a class index
     * @return its caption
     */
    public String caption(int cls) {
      return template.replace("{}", classNames.get(cls));
    }
  }

  private CaptionedImages() {}

  /**
   * @param images an IDX file of images, [items, rows, cols]
   * @return the labels file beside it: "images" -> "labels" and "idx3" -> "idx1" in its name,
   *     gzipped or not, whichever exists (the name as derived if neither does)
   */
  public static Path labelsFile(Path images) {
    String name =
        images.getFileName().toString().replace("images", "labels").replace("idx3", "idx1");
    String other = name.endsWith(".gz") ? name.substring(0, name.length() - 3) : name + ".gz";
    Path derived = images.resolveSibling(name);
    return Files.exists(derived) || !Files.exists(images.resolveSibling(other))
        ? derived
        : images.resolveSibling(other);
  }

  /**
   * @param images an IDX file of images; its labels are read from {@link #labelsFile}
   * @param captions class names and caption template
   * @param encoder tokenizes the captions
   * @param m a contrastive image-text model (input_ids, attention_mask, pixel_values [batch,C,H,W])
   * @return one example per image, in file order
   * @throws IOException if a file is missing or malformed, a label has no class name, or the model
   *     takes other inputs; the message names the file
   */
  public static List<JsonlDataset.Example> load(
      Path images, Captions captions, TextEncoder encoder, Manifest m) throws IOException {
    Path labelsPath = labelsFile(images);
    if (labelsPath.equals(images) || !Files.exists(labelsPath)) {
      throw new IOException(
          images + ": IDX images need their labels beside them, as " + labelsPath.getFileName());
    }
    IdxFile pixels = IdxFile.read(images);
    IdxFile labels = IdxFile.read(labelsPath);
    if (pixels.dims().length != 3) {
      throw new IOException(
          images
              + ": expected images [items, rows, cols], found "
              + Arrays.toString(pixels.dims()));
    }
    if (labels.dims().length != 1 || labels.items() != pixels.items()) {
      throw new IOException(
          labelsPath
              + ": expected "
              + pixels.items()
              + " labels for "
              + images.getFileName()
              + ", found sizes "
              + Arrays.toString(labels.dims()));
    }
    Resize resize = Resize.to(m, pixels.dims()[1], pixels.dims()[2]);
    int classes = captions.classNames().size();
    List<long[][]> tokens = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      tokens.add(encoder.tokens(captions.caption(c)));
    }
    ClassPrompts prompts =
        new ClassPrompts(
            tokens.stream().map(t -> t[0]).toList(), tokens.stream().map(t -> t[1]).toList());
    int size = pixels.itemSize();
    List<JsonlDataset.Example> out = new ArrayList<>(pixels.items());
    for (int i = 0; i < pixels.items(); i++) {
      int cls = Byte.toUnsignedInt(labels.values()[i]);
      if (cls >= classes) {
        throw new IOException(
            labelsPath
                + ": item "
                + i
                + " has label "
                + cls
                + " but only "
                + classes
                + " class names were given");
      }
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("input_ids", tokens.get(cls)[0]);
      v.put("attention_mask", tokens.get(cls)[1]);
      v.put(
          "pixel_values",
          new GrayImage(Arrays.copyOfRange(pixels.values(), i * size, (i + 1) * size), resize));
      v.put(CLASS_INDEX, new long[] {cls});
      v.put(CLASS_PROMPTS, prompts);
      out.add(new JsonlDataset.Example(v));
    }
    return out;
  }

  /**
   * Bilinear resampling (half-pixel centres, as torch's align_corners=False) to the model's size.
   */
  private record Resize(int rows, int cols, int channels, int height, int width) {
    static Resize to(Manifest m, int rows, int cols) throws IOException {
      List<String> names = m.inputs().stream().map(Manifest.IoSpec::name).toList();
      if (!names.equals(List.of("input_ids", "attention_mask", "pixel_values"))) {
        throw new IOException(
            m.id()
                + ": captioned images fit a contrastive model with inputs [input_ids,"
                + " attention_mask, pixel_values]; this one takes "
                + names);
      }
      List<Manifest.Dim> s = m.inputs().get(2).shape();
      if (s.size() != 4 || s.get(1).symbolic() || s.get(2).symbolic() || s.get(3).symbolic()) {
        throw new IOException(m.id() + ": pixel_values must be [batch, channels, height, width]");
      }
      return new Resize(
          rows, cols, (int) s.get(1).size(), (int) s.get(2).size(), (int) s.get(3).size());
    }
  }

  /** One grayscale image, kept as bytes and expanded to normalised floats when batched. */
  private record GrayImage(byte[] pixels, Resize r) implements FloatRow {
    @Override
    public int length() {
      return r.channels() * r.height() * r.width();
    }

    @Override
    public void copyTo(float[] dst, int offset) {
      int plane = r.height() * r.width();
      for (int y = 0; y < r.height(); y++) {
        float sy = Math.max(0, (y + 0.5f) * r.rows() / r.height() - 0.5f);
        int y0 = Math.min((int) sy, r.rows() - 1);
        int y1 = Math.min(y0 + 1, r.rows() - 1);
        float fy = sy - y0;
        for (int x = 0; x < r.width(); x++) {
          float sx = Math.max(0, (x + 0.5f) * r.cols() / r.width() - 0.5f);
          int x0 = Math.min((int) sx, r.cols() - 1);
          int x1 = Math.min(x0 + 1, r.cols() - 1);
          float fx = sx - x0;
          float top = (1 - fx) * at(y0, x0) + fx * at(y0, x1);
          float bottom = (1 - fx) * at(y1, x0) + fx * at(y1, x1);
          float v = ((1 - fy) * top + fy * bottom) / 255f;
          for (int c = 0; c < r.channels(); c++) {
            dst[offset + c * plane + y * r.width() + x] = (v - MEAN[c % 3]) / STD[c % 3];
          }
        }
      }
    }

    private float at(int y, int x) {
      return Byte.toUnsignedInt(pixels[y * r.cols() + x]);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof GrayImage g && r.equals(g.r) && Arrays.equals(pixels, g.pixels);
    }

    @Override
    public int hashCode() {
      return 31 * r.hashCode() + Arrays.hashCode(pixels);
    }

    @Override
    public String toString() {
      return "GrayImage[" + r.rows() + "x" + r.cols() + " -> " + length() + " floats]";
    }
  }
}
