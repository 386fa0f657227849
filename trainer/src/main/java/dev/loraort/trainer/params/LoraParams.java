package dev.loraort.trainer.params;

import dev.loraort.artifacts.LoraScaling;
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
 * tensors (heads), and the LoRA scales.
 *
 * <p>Modules may have their own rank and scale (PEFT's rank_pattern / alpha_pattern), while the
 * graphs have one {@code lora_scale} input and one symbolic rank {@code lora_r}. Both are handled
 * at the graph boundary, here and only here. {@link #feeds} gives {@code lora_scale = s} and, for a
 * module whose s_m differs, B_m times c_m = s_m / s (the graph's s c_m B_m A_m is s_m B_m A_m);
 * {@link #trueGradients} multiplies the graph's gradient of that B by c_m (chain rule). Every
 * exporter and {@code prepare} use lora_scale only in s B A (the forward branch and Flat-LoRA's W'
 * = W0 + s B A), so the fold is exact there. And every module is fed at the widest rank,
 * zero-padded: ONNX Runtime's memory planner takes inputs that share a dim name to have that dim
 * equal, so with ranks that differ a reused buffer can be too small ("Shape mismatch attempting to
 * re-use buffer", seen on tiny-gpt2-lm's infer graph); zero rows of A and columns of B leave B A,
 * and the gradients of the true rows and columns, as they are. Methods, the optimizer and files see
 * each A_m and B_m at its own rank and unscaled.
 *
 * @param tree A, B per module in manifest order, then the trainables
 * @param modules the adapted modules' paths
 * @param rank r, the default rank
 * @param scale s (alpha / r for plain LoRA): the lora_scale fed to the graphs
 * @param scales each module's s_m (those at the default equal {@code scale})
 */
public record LoraParams(
    ParamTree tree, List<String> modules, int rank, float scale, Map<String, Float> scales) {
  /** Copies the module list and the scales; every module needs its scale. */
  public LoraParams {
    modules = List.copyOf(modules);
    scales = Map.copyOf(scales);
    for (String m : modules) {
      if (!scales.containsKey(m)) {
        throw new IllegalArgumentException("no scale for module " + m);
      }
    }
  }

  /**
   * Parameters with one scale for every module.
   *
   * @param tree A, B per module, then the trainables
   * @param modules the adapted modules' paths
   * @param rank r
   * @param scale s of every module
   */
  public LoraParams(ParamTree tree, List<String> modules, int rank, float scale) {
    this(tree, modules, rank, scale, uniform(modules, scale));
  }

  /**
   * PEFT's initialization with one rank and scale: see {@link #init(Manifest, LoraScaling,
   * SplittableRandom)}.
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
    return init(m, LoraScaling.uniform(rank, scale), rng);
  }

  /**
   * PEFT's initialization: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0,
   * each module at its own rank; trainables from {@code trainable_init.safetensors}.
   *
   * @param m the manifest
   * @param ranks each module's rank and scale
   * @param rng the initialization stream (split from the run seed)
   * @return fresh parameters
   * @throws IOException if trainable_init.safetensors is missing or does not match the manifest
   */
  public static LoraParams init(Manifest m, LoraScaling ranks, SplittableRandom rng)
      throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    Map<String, Float> scales = new LinkedHashMap<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      int rank = ranks.rank(mod.name());
      if (rank < 1) {
        throw new IllegalArgumentException("rank must be >= 1, got " + rank + " for " + mod.name());
      }
      scales.put(mod.name(), ranks.scale(mod.name()));
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
    return new LoraParams(ParamTree.of(t), names(m), ranks.rank(), ranks.scale(), scales);
  }

  /**
   * Parameters from given tensors with one scale: the rank is the first A's, and every module must
   * have it (a fixture, an adapter of one rank).
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
    String first = TensorNames.loraA(m.lora().modules().get(0).name());
    int rank = (int) require(given, first, source).shape()[0];
    return of(m, given, LoraScaling.uniform(rank, scale), source);
  }

  /**
   * Parameters from given tensors (an adapter to continue from, a fixture): every LoRA tensor of
   * the manifest must be there at its module's rank; trainables missing from {@code given} come
   * from {@code trainable_init.safetensors}.
   *
   * @param m the manifest
   * @param given tensors by contract name
   * @param ranks each module's rank and scale
   * @param source what the tensors came from, for error messages
   * @return the parameters (copies of the given arrays)
   * @throws IOException if a tensor is missing or has the wrong shape; the message names it
   */
  public static LoraParams of(
      Manifest m, Map<String, Tensor> given, LoraScaling ranks, String source) throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    Map<String, Float> scales = new LinkedHashMap<>();
    for (Manifest.LoraModule mod : m.lora().modules()) {
      int rank = ranks.rank(mod.name());
      Tensor a = require(given, TensorNames.loraA(mod.name()), source);
      Tensor b = require(given, TensorNames.loraB(mod.name()), source);
      long[] as = a.shape();
      long[] bs = b.shape();
      String why = rank == ranks.rank() ? "" : " (its rank_pattern rank)";
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
                + "]"
                + why);
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
                + "]"
                + why);
      }
      t.put(TensorNames.loraA(mod.name()), a.copy());
      t.put(TensorNames.loraB(mod.name()), b.copy());
      scales.put(mod.name(), ranks.scale(mod.name()));
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
    return new LoraParams(ParamTree.of(t), names(m), ranks.rank(), ranks.scale(), scales);
  }

  private static List<String> names(Manifest m) {
    return m.lora().modules().stream().map(Manifest.LoraModule::name).toList();
  }

  /**
   * @return a deep copy
   */
  public LoraParams copy() {
    return new LoraParams(tree.copy(), modules, rank, scale, scales);
  }

  /**
   * @param module an adapted module
   * @return its rank (the rows of its A)
   */
  public int rank(String module) {
    return (int) tree.shape(TensorNames.loraA(module))[0];
  }

  /**
   * @param module an adapted module
   * @return its scale s_m
   * @throws IllegalArgumentException for a module these parameters do not adapt
   */
  public float scale(String module) {
    Float s = scales.get(module);
    if (s == null) {
      throw new IllegalArgumentException("no adapted module " + module + "; there are " + modules);
    }
    return s;
  }

  /**
   * @return the graph feeds for these parameters: every tensor of the tree plus lora_scale, each B
   *     folded and each module padded to the widest rank ({@link #feeds(Map)})
   */
  public Map<String, Tensor> feeds() {
    return feeds(Map.of());
  }

  /**
   * The graph feeds: every tensor of the tree, replaced or joined by {@code overrides} (true
   * coordinates, e.g. Bi-LoRA's B concatenated with its auxiliary branch, or other inputs such as
   * rwp_sigma), then lora_scale = s, each B of a module with s_m != s multiplied by s_m / s, and
   * every module narrower than the widest zero-padded to it (A's last rows, B's last columns: B A
   * is unchanged). Modules at the default scale and the widest rank are fed as they are, without a
   * copy.
   *
   * @param overrides tensors fed instead of the tree's, or besides them
   * @return the feeds
   */
  public Map<String, Tensor> feeds(Map<String, Tensor> overrides) {
    Map<String, Tensor> f = tree.tensors();
    f.putAll(overrides);
    int width = width(f);
    for (String m : modules) {
      String a = TensorNames.loraA(m);
      String b = TensorNames.loraB(m);
      int r = (int) f.get(a).shape()[0];
      double c = fold(m);
      if (r < width) {
        long[] as = f.get(a).shape();
        f.put(
            a,
            Tensor.ofFloats(
                new long[] {width, as[1]},
                Arrays.copyOf(f.get(a).floats(), (int) (width * as[1]))));
      }
      if (c != 1 || r < width) {
        f.put(b, columns(f.get(b), r, width, c));
      }
    }
    f.put(TensorNames.LORA_SCALE, Tensor.scalar(scale));
    return f;
  }

  /**
   * A train graph's outputs as gradients of what {@link #feeds(Map)} was given: each padded A and B
   * gradient cut back to the module's rank, and each folded B's gradient multiplied by c_m = s_m /
   * s (chain rule: dL/dB = c_m dL/d(c_m B)). Other outputs are passed on as they are.
   *
   * @param outputs a train graph's outputs by name ({@code grad.<A>}, {@code grad.<B>} among them)
   * @param overrides the overrides the feeds were built with
   * @return the outputs in true coordinates (the input map is not changed)
   */
  public Map<String, Tensor> trueGradients(
      Map<String, Tensor> outputs, Map<String, Tensor> overrides) {
    Map<String, Tensor> out = new LinkedHashMap<>(outputs);
    for (String m : modules) {
      String a = TensorNames.loraA(m);
      String b = TensorNames.loraB(m);
      int r = (int) (overrides.containsKey(a) ? overrides.get(a) : tree.tensor(a)).shape()[0];
      double c = fold(m);
      Tensor ga = out.get(TensorNames.grad(a));
      if (ga != null && ga.shape()[0] != r) {
        long in = ga.shape()[1];
        out.put(
            TensorNames.grad(a),
            Tensor.ofFloats(new long[] {r, in}, Arrays.copyOf(ga.floats(), (int) (r * in))));
      }
      Tensor gb = out.get(TensorNames.grad(b));
      if (gb != null && (c != 1 || gb.shape()[1] != r)) {
        out.put(TensorNames.grad(b), columns(gb, (int) gb.shape()[1], r, c));
      }
    }
    return out;
  }

  /** The widest module's rank among the fed A tensors. */
  private int width(Map<String, Tensor> feeds) {
    int w = 0;
    for (String m : modules) {
      w = Math.max(w, (int) feeds.get(TensorNames.loraA(m)).shape()[0]);
    }
    return w;
  }

  /**
   * c times the first min(from, to) columns of an [out, from] matrix, as [out, to] (zeros beyond):
   * a B widened for the feeds, or a B gradient cut back.
   */
  private static Tensor columns(Tensor t, int from, int to, double c) {
    int rows = (int) t.shape()[0];
    float[] v = t.floats();
    float[] w = new float[rows * to];
    int n = Math.min(from, to);
    for (int i = 0; i < rows; i++) {
      for (int k = 0; k < n; k++) {
        w[i * to + k] = (float) (c * v[i * from + k]);
      }
    }
    return Tensor.ofFloats(new long[] {rows, to}, w);
  }

  /** c_m = s_m / s: 1 for a module at the default scale. */
  private double fold(String module) {
    float s = scale(module);
    return s == scale ? 1 : (double) s / scale;
  }

  private static Map<String, Float> uniform(List<String> modules, float scale) {
    Map<String, Float> s = new LinkedHashMap<>();
    modules.forEach(m -> s.put(m, scale));
    return s;
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
