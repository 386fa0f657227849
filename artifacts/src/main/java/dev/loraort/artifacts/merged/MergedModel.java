package dev.loraort.artifacts.merged;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.OnnxFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Folds an adapter into a copy of a model's infer.onnx: per adapted module W0 + s B A, in the
 * layout the manifest gives ({@code out_in} adds s B A, {@code in_out} adds s A^T B^T, as PEFT's
 * merge with fan_in_fan_out). The LoRA inputs become zero-size initializers ([0, in], [out, 0]: the
 * LoRA branch then costs nothing) and the heads and lora_scale become initializers, so the merged
 * graph's only inputs are the batch. The merge works on copies and rejects non-finite results,
 * naming the module.
 */
public final class MergedModel {
  /** The metadata key a merged model carries: what was folded into which weights. */
  public static final String METADATA = "merged";

  private MergedModel() {}

  /**
   * @param out the merged model file (written atomically)
   * @param m the model directory's manifest
   * @param a the adapter
   * @throws IOException if a base weight is missing, of the wrong shape, or a merge is not finite
   *     (external base weights are read in: the merged model stands alone)
   */
  public static void write(Path out, Manifest m, AdapterWeights a) throws IOException {
    Path infer = m.graph("infer").orElseThrow();
    OnnxFile.Contents c = OnnxFile.read(infer);
    Map<String, Tensor> replace = new LinkedHashMap<>();
    Map<String, Tensor> add = new LinkedHashMap<>();
    Set<String> dropInputs = new HashSet<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      String where = m.dir().resolve(Manifest.FILE) + ": module " + mod.name();
      if (mod.baseWeight() == null) {
        throw new IOException(where + " names no base_weight; this model cannot be merged");
      }
      Tensor w0 =
          c.external().contains(mod.baseWeight())
              ? OnnxFile.initializer(infer, mod.baseWeight())
              : c.initializers().get(mod.baseWeight());
      if (w0 == null) {
        throw new IOException(infer + ": no initializer " + mod.baseWeight() + " (" + where + ")");
      }
      boolean inOut = "in_out".equals(mod.baseLayout());
      long[] want = inOut ? new long[] {mod.in(), mod.out()} : new long[] {mod.out(), mod.in()};
      if (!Arrays.equals(w0.shape(), want)) {
        throw new IOException(
            infer
                + ": "
                + mod.baseWeight()
                + " has shape "
                + Arrays.toString(w0.shape())
                + "; "
                + mod.baseLayout()
                + " for "
                + mod.name()
                + " means "
                + Arrays.toString(want));
      }
      float[] aw = require(a, TensorNames.loraA(mod.name())).floats();
      float[] bw = require(a, TensorNames.loraB(mod.name())).floats();
      float[] w = w0.floats().clone(); // never modify the source
      int r = a.rank(mod.name()); // rank_pattern / alpha_pattern: each module its own r and s
      double s = a.scale(mod.name());
      for (int i = 0; i < mod.out(); i++) {
        for (int j = 0; j < mod.in(); j++) {
          double d = 0;
          for (int k = 0; k < r; k++) {
            d += (double) bw[i * r + k] * aw[k * mod.in() + j];
          }
          int at = inOut ? j * mod.out() + i : i * mod.in() + j;
          float v = (float) (w[at] + s * d);
          if (!Float.isFinite(v)) {
            throw new IOException(
                "merging " + mod.name() + " gives a non-finite weight at [" + i + ", " + j + "]");
          }
          w[at] = v;
        }
      }
      replace.put(mod.baseWeight(), Tensor.ofFloats(w0.shape(), w));
      add.put(
          TensorNames.loraA(mod.name()), Tensor.ofFloats(new long[] {0, mod.in()}, new float[0]));
      add.put(
          TensorNames.loraB(mod.name()), Tensor.ofFloats(new long[] {mod.out(), 0}, new float[0]));
      dropInputs.add(TensorNames.loraA(mod.name()));
      dropInputs.add(TensorNames.loraB(mod.name()));
    }
    for (Manifest.TrainableSpec t : m.trainable()) {
      add.put(t.name(), require(a, t.name()));
      dropInputs.add(t.name());
    }
    add.put(TensorNames.LORA_SCALE, Tensor.scalar(a.scale()));
    dropInputs.add(TensorNames.LORA_SCALE);
    Map<String, String> meta = new LinkedHashMap<>(a.metadata());
    meta.put(
        METADATA,
        "s B A folded into W0; rank "
            + a.rank()
            + ", scale "
            + a.scale()
            + (a.patterns().isEmpty() ? "" : ", per module by " + a.patterns().toJson()));
    OnnxFile.rewrite(infer, out, replace, add, dropInputs, meta);
  }

  private static Tensor require(AdapterWeights a, String name) throws IOException {
    Tensor t = a.tensors().get(name);
    if (t == null) {
      throw new IOException("the adapter has no tensor " + name);
    }
    return t;
  }
}
