package dev.loraort.artifacts;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.merged.MergedModel;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.artifacts.ortadapter.OrtAdapterFile;
import dev.loraort.artifacts.peft.PeftDirectory;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes an adapter in any format, and reads any adapter format back (the format told by the file).
 */
public final class Adapters {
  private static final String RANK = "rank";
  private static final String ALPHA = "alpha";
  private static final String SCALE = "lora_scale";
  private static final String RS_LORA = "use_rslora";

  private Adapters() {}

  /**
   * @param out the file or directory to write (atomically)
   * @param format the format
   * @param a the adapter
   * @param m the model it belongs to
   * @throws IOException if writing fails or the adapter cannot be expressed in that format
   */
  public static void write(Path out, AdapterFormat format, AdapterWeights a, Manifest m)
      throws IOException {
    switch (format) {
      case ONNX:
        OnnxFile.writeInitializers(out, a.tensors(), withShape(a), "lora-ort");
        break;
      case ORT_ADAPTER:
        OrtAdapterFile.write(out, a, 1);
        break;
      case PEFT:
        PeftDirectory.write(out, a, m);
        break;
      case MERGED:
        MergedModel.write(out, m, a);
        break;
      default:
        Safetensors.write(out, a.tensors(), withShape(a));
    }
  }

  /**
   * Reads an adapter: a PEFT directory, an .onnx_adapter, a .safetensors or an ONNX initializers
   * file.
   *
   * @param in the file or directory
   * @param m the model it is for
   * @return the adapter under contract names
   * @throws IOException if it is none of these or is malformed; the message names the file
   */
  public static AdapterWeights read(Path in, Manifest m) throws IOException {
    return checked(in, readAny(in, m));
  }

  /**
   * Every LoRA matrix has its module's rank (a config whose r disagrees would scale it wrongly) and
   * every value is finite (a diverged run's NaN would poison whatever starts from it).
   */
  private static AdapterWeights checked(Path in, AdapterWeights a) throws IOException {
    for (Map.Entry<String, Tensor> e : a.tensors().entrySet()) {
      String name = e.getKey();
      long[] shape = e.getValue().shape();
      int rankDim = name.endsWith(".lora_A.weight") ? 0 : name.endsWith(".lora_B.weight") ? 1 : -1;
      int r =
          rankDim < 0 ? 0 : a.rank(name.substring(0, name.length() - ".lora_A.weight".length()));
      if (rankDim >= 0 && (shape.length != 2 || shape[rankDim] != r)) {
        throw new IOException(
            in
                + ": "
                + name
                + " has shape "
                + java.util.Arrays.toString(shape)
                + "; the adapter's rank (r"
                + (a.patterns().rankPattern().isEmpty() ? "" : ", after rank_pattern")
                + ") is "
                + r);
      }
      if (e.getValue().dtype() == Tensor.DType.F32) {
        float[] v = e.getValue().floats();
        for (int i = 0; i < v.length; i++) {
          if (!Float.isFinite(v[i])) {
            throw new IOException(
                in + ": " + name + " holds " + v[i] + " at element " + i + " (a diverged run?)");
          }
        }
      }
    }
    return a;
  }

  private static AdapterWeights readAny(Path in, Manifest m) throws IOException {
    if (Files.isDirectory(in)) {
      return PeftDirectory.read(in, m);
    }
    String name = in.getFileName().toString();
    if (name.endsWith(".onnx_adapter")) {
      return OrtAdapterFile.read(in);
    }
    Map<String, Tensor> tensors;
    Map<String, String> meta;
    if (name.endsWith(".safetensors")) {
      Safetensors.Contents c = Safetensors.read(in);
      tensors = new LinkedHashMap<>(c.tensors());
      meta = new LinkedHashMap<>(c.metadata());
      Tensor s =
          tensors.remove(
              TensorNames.LORA_SCALE); // a fixture's params.safetensors carries s as a tensor
      if (s != null && !meta.containsKey(SCALE)) {
        meta.put(SCALE, Float.toString(s.floats()[0]));
      }
    } else {
      OnnxFile.Contents c = OnnxFile.read(in);
      tensors = c.initializers();
      meta = c.metadata();
      if (meta.containsKey(MergedModel.METADATA)) {
        throw new IOException(
            in
                + " is a merged model ("
                + meta.get(MergedModel.METADATA)
                + "): its LoRA update is inside its weights, so it runs as a model of its own and"
                + " loads onto none; give the run's adapter instead (adapter.onnx, a PEFT"
                + " directory, an .onnx_adapter or a .safetensors file)");
      }
    }
    // with patterns the first A may have its own rank: the default is the metadata's; files
    // without patterns have one rank, read from the first A as always
    LoraPatterns patterns = LoraPatterns.fromMetadata(meta, in.toString());
    int rank =
        !patterns.isEmpty() && meta.containsKey(RANK)
            ? (int) number(in, meta, RANK)
            : tensors.entrySet().stream()
                .filter(e -> e.getKey().endsWith(".lora_A.weight"))
                .mapToInt(e -> (int) e.getValue().shape()[0])
                .findFirst()
                .orElseThrow(
                    () ->
                        new IOException(in + ": no <module>.lora_A.weight tensor; not an adapter"));
    double alpha = meta.containsKey(ALPHA) ? number(in, meta, ALPHA) : Double.NaN;
    float scale =
        meta.containsKey(SCALE) ? (float) number(in, meta, SCALE) : (float) (alpha / rank);
    if (!Float.isFinite(scale) || rank < 1) {
      throw new IOException(
          in + ": rank " + rank + ", scale " + scale + " (lora_scale or lora_alpha missing?)");
    }
    AdapterWeights plain =
        new AdapterWeights(tensors, rank, Double.isNaN(alpha) ? scale * rank : alpha, scale, meta);
    if (patterns.isEmpty()) {
      return plain;
    }
    boolean rs =
        meta.containsKey(RS_LORA) ? Boolean.parseBoolean(meta.get(RS_LORA)) : plain.rsLora();
    try {
      return new AdapterWeights(tensors, rank, plain.alpha(), scale, rs, patterns, meta);
    } catch (IllegalArgumentException e) {
      throw new IOException(in + ": " + e.getMessage(), e);
    }
  }

  private static double number(Path in, Map<String, String> meta, String key) throws IOException {
    try {
      return Double.parseDouble(meta.get(key));
    } catch (NumberFormatException e) {
      throw new IOException(
          in + ": metadata " + key + " is '" + meta.get(key) + "', not a number", e);
    }
  }

  private static Map<String, String> withShape(AdapterWeights a) {
    Map<String, String> meta = new LinkedHashMap<>(a.metadata());
    // the adapter's own fields, not what metadata read from another file said
    meta.keySet()
        .removeAll(List.of(RS_LORA, LoraPatterns.RANK_PATTERN, LoraPatterns.ALPHA_PATTERN));
    meta.put(RANK, Integer.toString(a.rank()));
    meta.put(ALPHA, Double.toString(a.alpha()));
    meta.put(SCALE, Float.toString(a.scale()));
    if (!a.patterns().isEmpty()) { // a module's scale comes from its r, alpha and use_rslora
      meta.put(RS_LORA, Boolean.toString(a.rsLora()));
      meta.putAll(a.patterns().toMetadata());
    }
    return meta;
  }
}
