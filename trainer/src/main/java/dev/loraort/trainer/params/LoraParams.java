package dev.loraort.trainer.params;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The trainable state fed to a graph: LoRA A/B per adapted module (contract names), other trainable
 * tensors (heads), and the LoRA scale s.
 *
 * @param tree A, B per module in manifest order, then the trainables
 * @param modules the adapted modules' paths
 * @param rank r
 * @param scale s (alpha / r for plain LoRA)
 */
public record LoraParams(ParamTree tree, List<String> modules, int rank, float scale) {
  /** Copies the module list. */
  public LoraParams {
    modules = List.copyOf(modules);
  }

  /**
   * PEFT's initialization: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0,
   * trainables from {@code trainable_init.safetensors}.
   *
   * @param m the manifest
   * @param rank r
   * @param scale s (alpha / r, or alpha / sqrt(r) under rsLoRA)
   * @param rng the initialization stream (split from the run seed)
   * @return fresh parameters
   * @throws IOException if trainable_init.safetensors is missing or does not match the manifest
   */
  public static LoraParams init(Manifest m, int rank, float scale, SplittableRandom rng)
      throws IOException {
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1, got " + rank);
    }
    Map<String, Tensor> t = new LinkedHashMap<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      float[] a = new float[rank * mod.in()];
      double bound = 1.0 / Math.sqrt(mod.in()); // gain sqrt(2/(1+5)) * sqrt(3/in)
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
      }
      t.put(TensorNames.loraA(mod.name()), Tensor.ofFloats(new long[] {rank, mod.in()}, a));
      t.put(
          TensorNames.loraB(mod.name()),
          Tensor.ofFloats(new long[] {mod.out(), rank}, new float[mod.out() * rank]));
    }
    t.putAll(trainableInit(m));
    return new LoraParams(
        ParamTree.of(t),
        m.lora().modules().stream().map(Manifest.LoraModule::name).toList(),
        rank,
        scale);
  }

  /**
   * Parameters from given tensors (an adapter to continue from, a fixture): every LoRA tensor of
   * the manifest must be there with a consistent rank; trainables missing from {@code given} come
   * from {@code trainable_init.safetensors}.
   *
   * @param m the manifest
   * @param given tensors by contract name
   * @param scale s
   * @param source what the tensors came from, for error messages
   * @return the parameters (copies of the given arrays)
   * @throws IOException if a tensor is missing or has the wrong shape; the message names it
   */
  public static LoraParams of(Manifest m, Map<String, Tensor> given, float scale, String source)
      throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    int rank = -1;
    for (Manifest.LoraModule mod : m.lora().modules()) {
      Tensor a = require(given, TensorNames.loraA(mod.name()), source);
      Tensor b = require(given, TensorNames.loraB(mod.name()), source);
      long[] as = a.shape();
      long[] bs = b.shape();
      if (rank < 0) {
        rank = (int) as[0];
      }
      if (as.length != 2 || as[0] != rank || as[1] != mod.in()) {
        throw new IOException(
            source
                + ": "
                + TensorNames.loraA(mod.name())
                + " has shape "
                + Arrays.toString(as)
                + "; expected ["
                + rank
                + ", "
                + mod.in()
                + "]");
      }
      if (bs.length != 2 || bs[0] != mod.out() || bs[1] != rank) {
        throw new IOException(
            source
                + ": "
                + TensorNames.loraB(mod.name())
                + " has shape "
                + Arrays.toString(bs)
                + "; expected ["
                + mod.out()
                + ", "
                + rank
                + "]");
      }
      t.put(TensorNames.loraA(mod.name()), a.copy());
      t.put(TensorNames.loraB(mod.name()), b.copy());
    }
    Map<String, Tensor> init = trainableInit(m);
    for (Manifest.TrainableSpec spec : m.trainable()) {
      Tensor v = given.containsKey(spec.name()) ? given.get(spec.name()) : init.get(spec.name());
      if (!Arrays.equals(v.shape(), spec.shape())) {
        throw new IOException(
            source
                + ": "
                + spec.name()
                + " has shape "
                + Arrays.toString(v.shape())
                + "; manifest.json says "
                + Arrays.toString(spec.shape()));
      }
      t.put(spec.name(), v.copy());
    }
    return new LoraParams(
        ParamTree.of(t),
        m.lora().modules().stream().map(Manifest.LoraModule::name).toList(),
        rank,
        scale);
  }

  /**
   * @return a deep copy
   */
  public LoraParams copy() {
    return new LoraParams(tree.copy(), modules, rank, scale);
  }

  /**
   * @return the graph feeds for these parameters: every tensor of the tree plus lora_scale
   */
  public Map<String, Tensor> feeds() {
    Map<String, Tensor> f = tree.tensors();
    f.put(TensorNames.LORA_SCALE, Tensor.scalar(scale));
    return f;
  }

  private static Tensor require(Map<String, Tensor> given, String name, String source)
      throws IOException {
    Tensor t = given.get(name);
    if (t == null) {
      throw new IOException(
          source + ": no tensor " + name + " (contract name of a LoRA input of this model)");
    }
    if (t.dtype() != Tensor.DType.F32) {
      throw new IOException(source + ": " + name + " is " + t.dtype() + ", expected F32");
    }
    return t;
  }

  private static Map<String, Tensor> trainableInit(Manifest m) throws IOException {
    Map<String, Tensor> out = new LinkedHashMap<>();
    if (m.trainable().isEmpty()) {
      return out;
    }
    Path file = m.dir().resolve("trainable_init.safetensors");
    if (!Files.exists(file)) {
      throw new IOException(
          file + " not found: manifest.json lists trainable tensors " + m.trainable().size());
    }
    Map<String, Tensor> init = Safetensors.read(file).tensors();
    for (Manifest.TrainableSpec spec : m.trainable()) {
      Tensor v = init.get(spec.name());
      if (v == null || !Arrays.equals(v.shape(), spec.shape())) {
        throw new IOException(
            file
                + ": tensor "
                + spec.name()
                + (v == null ? " is missing" : " has shape " + Arrays.toString(v.shape()))
                + "; manifest.json says "
                + Arrays.toString(spec.shape()));
      }
      out.put(spec.name(), v.copy());
    }
    return out;
  }
}
