package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * bf16 mixed precision as torch.autocast(bfloat16) does it: matrix products (MatMul, Gemm; forward
 * and backward alike) read bfloat16 operands and write a bfloat16 result; everything else
 * (LayerNorm, softmax, GELU, residual adds, the loss, the fused kernels) stays float32, and so do
 * the graph's inputs and outputs: the LoRA matrices are float32 master weights, their gradients
 * come out float32. bfloat16 keeps float32's exponent range, so no loss scaling is needed (unlike
 * fp16).
 *
 * <p>Each float value a product reads is cast once however many products read it (the backward
 * reuses the forward's cast: the activations saved for it are bfloat16). A product's result feeds
 * the next product without a round trip, also across data movement (Reshape, Transpose and the
 * like, exact in any type), which then runs on half the bytes, and across elementwise steps between
 * products (a bias, LoRA's sum and scale: rounded to bfloat16 as torch.autocast rounds them); a
 * value moved only for products is cast before the movement, for the same reason. Frozen weights
 * are cast in the graph: ONNX Runtime folds the cast of an initializer at load, so the device holds
 * them once, in bfloat16; so is a broadcast operand of such a step (an attention mask), once for
 * every layer that reads it.
 *
 * <p>Where the graph may use the fused-kernel library (train_fused), attention's softmax, between
 * two products, reads and writes bfloat16 too ({@link FusedKernels#SOFTMAX} and the bfloat16 {@link
 * FusedKernels#SOFTMAX_GRAD}, float32 inside, as flash attention keeps its scores): with the scale
 * and the mask before it, the attention matrix is never cast, forward or backward. So does the
 * MLP's GELU between its two products ({@link FusedKernels#GELU} and the bfloat16 GELU gradients),
 * as torch.autocast runs it (GELU is not on its float32 list), and SiLU and QuickGELU ({@link
 * FusedKernels#SWISH}, one op for the Mul, Sigmoid and scaling exporters write) with their
 * gradient. A causal LM's loss there (the library's {@link FusedKernels#SOFTMAX_CROSS_ENTROPY} and
 * its gradient) reads the bfloat16 logits as the product wrote them and works in float32 inside, as
 * torch.autocast's float32 cross-entropy does; its gradient comes out bfloat16, for the products
 * behind it: the vocabulary-sized logits are never cast. Norms whose output only products read (a
 * pre-norm LayerNorm; an RMSNorm with its weight) write it in bfloat16 from float32 ({@link
 * FusedKernels#LAYER_NORM}, {@link FusedKernels#RMS_NORM}), and their fused gradients read the
 * products' bfloat16 gradient; a sum of product gradients (Sum) is a step like the others.
 */
public final class MixedPrecision {
  private static final Set<String> PRODUCTS = Set.of("MatMul", "Gemm");

  private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div");

  /** Ops whose output holds the input's elements, rearranged: exact in bfloat16. */
  private static final Set<String> MOVES =
      Set.of("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Split");

  private final Graph g;
  private final Shapes s;
  private final Map<String, Node> producers;
  private final Map<String, List<Node>> consumers;

  /** Whether the kernel library's bfloat16 Softmax, GELU and their gradients may be used. */
  private final boolean kernels;

  /** Each float value's bfloat16 twin, once made. */
  private final Map<String, String> low = new HashMap<>();

  /** The nodes in their new order. */
  private final List<Node> out = new ArrayList<>();

  /**
   * Memos ({@link #memo}) of {@link #computable}, {@link #feedsOnlyLowReaders} and of whether a
   * library kernel runs in bfloat16.
   */
  private final Map<String, Boolean> computable = new HashMap<>();

  private final Map<String, Boolean> feedsOnly = new HashMap<>();

  private final Map<Node, Boolean> lowKernel = new IdentityHashMap<>();

  /** Scale steps folded into the softmax gradient before them: not written. */
  private final Set<Node> folded = java.util.Collections.newSetFromMap(new IdentityHashMap<>());

  /** How a lowered node runs in bfloat16. */
  private enum Kind {
    PRODUCT,
    /** an elementwise step, or a library kernel that takes bfloat16 as it is (GELU's gradients) */
    STEP,
    SOFTMAX,
    SOFTMAX_GRAD,
    GELU,
    /** SiLU or QuickGELU, {@code Mul(x, Sigmoid(alpha x))}: one library op */
    SWISH,
    /** the library's cross-entropy: reads bfloat16 logits, its per-row results stay float32 */
    CROSS_ENTROPY,
    /** its gradient: reads bfloat16 logits, writes bfloat16 */
    CROSS_ENTROPY_GRAD,
    /** a LayerNorm whose output only products read: the library's, writing bfloat16 */
    LAYER_NORM,
    /** an RMSNorm and its weight, likewise */
    RMS_NORM,
    /** the library's norm gradients: read a product's bfloat16 gradient, write float32 */
    NORM_GRAD
  }

  private MixedPrecision(Graph g, boolean kernels) {
    this.g = g;
    this.s = Shapes.infer(g);
    this.producers = g.producers();
    this.consumers = g.consumers();
    this.kernels = kernels;
  }

  /**
   * Rewrites a float32 graph in place.
   *
   * @param g a topologically sorted graph
   * @param kernels whether the graph may use the fused-kernel library (a train_fused graph): then
   *     attention's softmax and its gradient run in bfloat16 too
   * @return how many matrix products now run in bfloat16
   */
  public static int bf16(Graph g, boolean kernels) {
    return new MixedPrecision(g, kernels).run();
  }

  private int run() {
    int products = 0;
    for (Node n : g.nodes()) {
      if (n.op().equals("Shape") && low.containsKey(n.in(0))) {
        // a shape is the same in either type: read the bfloat16 value, the float one may be dead
        out.add(
            new Node("Shape", "", n.rawName(), List.of(low.get(n.in(0))), n.outputs(), n.attrs()));
        continue;
      }
      if (folded.contains(n)) {
        continue;
      }
      Kind k = kind(n);
      if (k == null) {
        out.add(n);
        continue;
      }
      // the scale's gradient after a softmax gradient is folded in: the kernel writes its result
      Node scaled = k == Kind.SOFTMAX_GRAD ? onlyReader(n.out(0)) : null;
      Scale gradScale = scaled != null && isLowStep(scaled) ? scale(scaled, n.out(0)) : null;
      if (gradScale != null) {
        folded.add(scaled);
      }
      String y = gradScale != null ? scaled.out(0) : n.out(0);
      // the lowered node's op, inputs and attributes; its output is named after the inputs' casts
      Node lowered =
          switch (k) {
            case SOFTMAX -> softmax(n);
            case SWISH ->
                new Node(
                    FusedKernels.SWISH,
                    FusedKernels.DOMAIN,
                    n.rawName(),
                    List.of(lowOf(swish(n).x())),
                    List.of(),
                    Map.of("alpha", Attr.f("alpha", swish(n).alpha())));
            case GELU ->
                new Node(
                    FusedKernels.GELU,
                    FusedKernels.DOMAIN,
                    n.rawName(),
                    List.of(lowOf(n.in(0))),
                    List.of(),
                    Map.of("approximate", Attr.s("approximate", n.s("approximate", "none"))));
            case SOFTMAX_GRAD ->
                new Node(
                    n.op(),
                    n.domain(),
                    n.rawName(),
                    List.of(lowOf(n.in(0)), lowOf(n.in(1))),
                    List.of(),
                    gradScale != null
                        ? Map.of("scale", Attr.f("scale", gradScale.value))
                        : Map.of());
            case LAYER_NORM ->
                new Node(
                    FusedKernels.LAYER_NORM,
                    FusedKernels.DOMAIN,
                    n.rawName(),
                    n.inputs(),
                    List.of(),
                    Map.of("epsilon", Attr.f("epsilon", n.f("epsilon", 1e-5f))));
            case RMS_NORM ->
                new Node(
                    FusedKernels.RMS_NORM,
                    FusedKernels.DOMAIN,
                    n.rawName(),
                    List.of(rmsNorm(n).x(), rmsNorm(n).scale()),
                    List.of(),
                    Map.of("epsilon", Attr.f("epsilon", rmsNorm(n).epsilon())));
            case NORM_GRAD -> {
              List<String> in = new ArrayList<>(n.inputs());
              in.set(0, lowOf(n.in(0)));
              yield new Node(n.op(), n.domain(), n.rawName(), in, List.of(), n.attrs());
            }
            case CROSS_ENTROPY, CROSS_ENTROPY_GRAD -> {
              List<String> in = new ArrayList<>(n.inputs());
              int logits = k == Kind.CROSS_ENTROPY ? 0 : 1;
              in.set(logits, lowOf(n.in(logits)));
              yield new Node(n.op(), n.domain(), n.rawName(), in, List.of(), n.attrs());
            }
            case PRODUCT, STEP -> {
              List<String> in = new ArrayList<>();
              for (int i = 0; i < n.inputs().size(); i++) {
                String v = n.in(i);
                in.add(v.isEmpty() || !isOperand(n, i) ? v : lowOf(v)); // Where's condition: bool
              }
              yield new Node(n.op(), n.domain(), n.rawName(), in, List.of(), n.attrs());
            }
          };
      if (k == Kind.CROSS_ENTROPY || k == Kind.NORM_GRAD) { // its results stay float32
        out.add(
            new Node(
                n.op(), n.domain(), n.rawName(), lowered.inputs(), n.outputs(), lowered.attrs()));
        continue;
      }
      String yLow = g.fresh(y + "/bf16");
      List<String> outputs = new ArrayList<>(List.of(yLow));
      if (k == Kind.LAYER_NORM) { // and its float32 statistics, which the fused gradient reads
        for (int i = 1; i <= 2; i++) {
          boolean named = n.outputs().size() > i && !n.out(i).isEmpty();
          outputs.add(named ? n.out(i) : g.fresh(y + (i == 1 ? "/mean" : "/inv_std")));
        }
      }
      out.add(
          new Node(
              lowered.op(),
              lowered.domain(),
              lowered.rawName(),
              lowered.inputs(),
              outputs,
              lowered.attrs()));
      // the float result keeps its name for the float ops that read it (dead code where none do)
      out.add(cast(yLow, y, DataType.FLOAT_VALUE));
      low.put(y, yLow); // bf16 -> float -> bf16 is exact: a later product reads yLow directly
      products += k == Kind.PRODUCT ? 1 : 0;
    }
    g.nodes().clear();
    g.nodes().addAll(out);
    g.removeDeadNodes();
    return products;
  }

  /**
   * The kernel library's bfloat16 softmax for an attention softmax, with the scale and the additive
   * mask before it folded in (each read only by the next), so neither runs on its own.
   */
  private Node softmax(Node n) {
    String x = n.in(0);
    String mask = null;
    Node add = producers.get(x);
    if (add != null && add.domain().isEmpty() && add.op().equals("Add") && onlyReader(x) == n) {
      boolean first = computable(add.in(0));
      if (first != computable(add.in(1)) && s.rank(x) <= 4) { // scores + mask
        mask = add.in(first ? 1 : 0);
        x = add.in(first ? 0 : 1);
      }
    }
    Node scaled = producers.get(x);
    Scale c = null;
    if (scaled != null && onlyReader(x) == (mask != null ? add : n)) {
      c = scale(scaled, null);
    }
    if (c != null) {
      x = c.operand;
    }
    List<String> in = new ArrayList<>(List.of(lowOf(x)));
    if (mask != null) {
      in.add(lowOf(mask));
    }
    return new Node(
        FusedKernels.SOFTMAX,
        FusedKernels.DOMAIN,
        n.rawName(),
        in,
        List.of(),
        c != null ? Map.of("scale", Attr.f("scale", c.value)) : Map.of());
  }

  /** A product by a constant scalar: {@code operand * value}. */
  private record Scale(String operand, float value) {}

  /**
   * {@code n} as a Mul or Div of a value by a scalar float weight, or null.
   *
   * @param of the value it must scale, or null for any
   */
  private Scale scale(Node n, String of) {
    if (!n.domain().isEmpty() || n.inputs().size() != 2) {
      return null;
    }
    boolean div = n.op().equals("Div");
    if (!div && !n.op().equals("Mul")) {
      return null;
    }
    for (int k = div ? 1 : 0; k < 2; k++) { // k: the scalar's side (a Div's is its divisor)
      String c = n.in(k);
      String v = n.in(1 - k);
      var t = g.initializers().get(c);
      if (t != null
          && Tensors.numel(t) == 1
          && t.getDataType() == DataType.FLOAT_VALUE
          && (of == null || of.equals(v))) {
        double d = Tensors.doubles(t)[0];
        return new Scale(v, (float) (div ? 1 / d : d));
      }
    }
    return null;
  }

  /** The one node that reads {@code v}, or null (several, none, or a graph output). */
  private Node onlyReader(String v) {
    List<Node> readers = consumers.getOrDefault(v, List.of());
    boolean output = g.isOutput(v);
    return readers.size() == 1 && !output ? readers.get(0) : null;
  }

  /** How {@code n} runs in bfloat16, or null where it stays as it is. */
  private Kind kind(Node n) {
    if (isLowCrossEntropy(n)) {
      return n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY)
          ? Kind.CROSS_ENTROPY
          : Kind.CROSS_ENTROPY_GRAD;
    }
    if (!operandsFloat(n)) {
      return null;
    }
    if (isLowSoftmaxGrad(n)) {
      return Kind.SOFTMAX_GRAD;
    }
    if (isLowActivationGrad(n)) {
      return Kind.STEP;
    }
    if (isLowNormGrad(n)) {
      return Kind.NORM_GRAD;
    }
    if (isLowLayerNorm(n)) {
      return Kind.LAYER_NORM;
    }
    if (isLowRmsNorm(n)) {
      return Kind.RMS_NORM;
    }
    if (!n.domain().isEmpty()) {
      return null;
    }
    if (PRODUCTS.contains(n.op())) {
      return Kind.PRODUCT;
    }
    if (isLowSwish(n)) {
      return Kind.SWISH;
    }
    if (isLowStep(n)) {
      return Kind.STEP;
    }
    if (isLowGelu(n)) {
      return Kind.GELU;
    }
    return isLowSoftmax(n) ? Kind.SOFTMAX : null;
  }

  /**
   * An elementwise step between products, run in bfloat16 as torch.autocast runs it: a linear
   * layer's bias, LoRA's sum with the base layer and its scale, attention's scale and mask; or a
   * Concat of product results. Its operands are bfloat16 results or cheap to cast (weights, folded
   * at load; scalar inputs; broadcast operands), and only products read its result (directly,
   * through data movement or through such steps; or a bfloat16 softmax), so running it in bfloat16
   * saves a cast to float before it and one back after it.
   */
  private boolean isLowStep(Node n) {
    return isStep(n) && computable(n.out(0)) && feedsOnlyLowReaders(n.out(0));
  }

  /**
   * An elementwise op with two operands, a Where (a mask: its condition stays bool) or a Concat
   * (the backward joins q, k, v's gradients).
   */
  private static boolean isStep(Node n) {
    return n.domain().isEmpty()
        && (ELEMENTWISE.contains(n.op()) && n.inputs().size() == 2
            || n.op().equals("Where") && n.inputs().size() == 3
            || isJoin(n));
  }

  /**
   * A Concat (the backward joins q, k, v's gradients) or a Sum (it adds the gradients a value gets
   * from several products: a LoRA layer's input): every input a product's result.
   */
  private static boolean isJoin(Node n) {
    return n.domain().isEmpty() && (n.op().equals("Concat") || n.op().equals("Sum"));
  }

  /** Whether input {@code i} of {@code n} carries a value it computes with (not a condition). */
  private static boolean isOperand(Node n, int i) {
    return !(n.op().equals("Where") && n.domain().isEmpty() && i == 0);
  }

  private static List<String> operands(Node n) {
    return n.op().equals("Where") && n.domain().isEmpty()
        ? n.inputs().subList(1, n.inputs().size())
        : n.inputs();
  }

  /**
   * Attention's softmax (the kernel library's, over the last axis) in bfloat16: it reads a value
   * computed from products, and only products (and its own gradient) read its result.
   */
  private boolean isLowSoftmax(Node n) {
    if (!kernels || !n.domain().isEmpty() || !n.op().equals("Softmax")) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () -> {
          int r = s.rank(n.in(0));
          return s.elemType(n.in(0)) == DataType.FLOAT_VALUE
              && r > 0
              && Shapes.normAxis(n.i("axis", -1), r) == r - 1
              && computable(n.in(0))
              && feedsOnlyLowReaders(n.out(0));
        });
  }

  /** The fused softmax gradient of a bfloat16 softmax: it reads the bfloat16 probabilities. */
  private boolean isLowSoftmaxGrad(Node n) {
    if (!kernels || !isSoftmaxGrad(n)) {
      return false;
    }
    Node p = producers.get(n.in(1));
    return p != null && isLowSoftmax(p);
  }

  /**
   * The MLP's GELU (the kernel library's) in bfloat16, as torch.autocast runs it: it reads a value
   * computed from products, and only products (and its gradient) read its result.
   */
  private boolean isLowGelu(Node n) {
    if (!kernels
        || !n.domain().isEmpty()
        || !n.op().equals("Gelu")
        || !List.of("none", "tanh").contains(n.s("approximate", "none"))) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () ->
            s.elemType(n.in(0)) == DataType.FLOAT_VALUE
                && computable(n.in(0))
                && feedsOnlyLowReaders(n.out(0)));
  }

  private static boolean isCrossEntropy(Node n) {
    return n.domain().equals(FusedKernels.DOMAIN)
        && (n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY)
            || n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD));
  }

  /** The logits input of the library's cross-entropy or its gradient. */
  private static String logitsOf(Node n) {
    return n.in(n.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY) ? 0 : 1);
  }

  /** The library's cross-entropy or its gradient on bfloat16 logits: they come from products. */
  private boolean isLowCrossEntropy(Node n) {
    if (!kernels || !isCrossEntropy(n)) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () -> s.elemType(logitsOf(n)) == DataType.FLOAT_VALUE && computable(logitsOf(n)));
  }

  private static boolean isSoftmaxGrad(Node n) {
    return n.domain().equals(FusedKernels.DOMAIN) && n.op().equals(FusedKernels.SOFTMAX_GRAD);
  }

  /**
   * A LayerNorm over the last axis whose output only products read (GPT-2's, Qwen2's and CLIP's
   * pre-norm blocks): the library's writes it in bfloat16 directly, float32 inside, as the cast
   * after it would round it. A LayerNorm whose output is also a residual (BERT's post-norm) keeps
   * ai.onnx's.
   */
  private boolean isLowLayerNorm(Node n) {
    if (!kernels || !n.domain().isEmpty() || !n.op().equals("LayerNormalization")) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () -> {
          int r = s.rank(n.in(0));
          return r > 0
              && Shapes.normAxis(n.i("axis", -1), r) == r - 1
              && n.i("stash_type", 1) == DataType.FLOAT_VALUE
              && feedsOnlyLowReaders(n.out(0));
        });
  }

  /** An RMSNorm and its weight: {@code Mul(m, scale)}, m an RMSNorm's result read only there. */
  private record RmsNorm(String x, String scale, float epsilon) {}

  /** {@code n} as the product of an RMSNorm ({@link RmsNorms}) by its weight, or null. */
  private RmsNorm rmsNorm(Node n) {
    if (!n.domain().isEmpty() || !n.op().equals("Mul")) {
      return null;
    }
    for (int k = 0; k < 2; k++) {
      var w = g.initializers().get(n.in(k));
      Node last = producers.get(n.in(1 - k));
      Node reader = n;
      if (last != null
          && last.domain().isEmpty()
          && last.op().equals("Cast")
          && last.i("to", 0) == DataType.FLOAT_VALUE
          && s.elemType(last.in(0)) == DataType.FLOAT_VALUE
          && onlyReader(last.out(0)) == n) { // TorchScript's hidden.to(float32): no change
        reader = last;
        last = producers.get(last.in(0));
      }
      if (w == null
          || w.getDataType() != DataType.FLOAT_VALUE
          || w.getDimsCount() != 1
          || last == null
          || onlyReader(last.out(0)) != reader) {
        continue;
      }
      RmsNorms.Match m = RmsNorms.match(last, lookup);
      if (m != null) {
        return new RmsNorm(m.x(), n.in(k), m.epsilon());
      }
    }
    return null;
  }

  /**
   * An RMSNorm and its weight whose result only products read (Qwen2's): the library's writes it in
   * bfloat16, float32 inside, as the cast after it would round it.
   */
  private boolean isLowRmsNorm(Node n) {
    if (!kernels || rmsNorm(n) == null) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () -> s.elemType(rmsNorm(n).x()) == DataType.FLOAT_VALUE && feedsOnlyLowReaders(n.out(0)));
  }

  /** What {@link RmsNorms} and {@link Swishes} read of this graph. */
  private final GraphLookup lookup =
      new GraphLookup() {
        @Override
        public Node producer(String v) {
          return producers.get(v);
        }

        @Override
        public double[] floatConstant(String v) {
          var t = g.initializers().get(v);
          return t != null && t.getDataType() == DataType.FLOAT_VALUE ? Tensors.doubles(t) : null;
        }

        @Override
        public long[] constants(String v) {
          return s.constants(v);
        }

        @Override
        public int rank(String v) {
          return s.rank(v);
        }
      };

  private static boolean isNormGrad(Node n) {
    return n.domain().equals(FusedKernels.DOMAIN)
        && (n.op().equals(FusedKernels.LAYER_NORM_GRAD)
            || n.op().equals(FusedKernels.RMS_NORM_GRAD));
  }

  /** A fused norm gradient reading its incoming gradient in bfloat16: products wrote it. */
  private boolean isLowNormGrad(Node n) {
    return kernels && isNormGrad(n) && memo(lowKernel, n, () -> computable(n.in(0)));
  }

  /** An activation's fused gradient (dY, X): GELU's, either form, or the swish's. */
  private static boolean isActivationGrad(Node n) {
    return n.domain().equals(FusedKernels.DOMAIN)
        && (n.op().equals(FusedKernels.GELU_GRAD)
            || n.op().equals(FusedKernels.GELU_TANH_GRAD)
            || n.op().equals(FusedKernels.SWISH_GRAD));
  }

  /**
   * An activation's fused gradient in bfloat16: its input comes from products, products read its
   * result.
   */
  private boolean isLowActivationGrad(Node n) {
    if (!kernels || !isActivationGrad(n)) {
      return false;
    }
    return memo(lowKernel, n, () -> computable(n.in(1)) && feedsOnlyLowReaders(n.out(0)));
  }

  /**
   * {@code n} as a swish's outer product ({@link Swishes}) whose sigmoid and scaling it alone
   * reads.
   */
  private Swishes.Match swish(Node n) {
    Swishes.Match m = n == null ? null : Swishes.match(n, lookup);
    if (m == null
        || onlyReader(m.sigmoid().out(0)) != n
        || m.scaled() != null && onlyReader(m.scaled().out(0)) != m.sigmoid()) {
      return null;
    }
    return m;
  }

  /**
   * A swish (the kernel library's) in bfloat16, as torch.autocast runs SiLU: its input comes from
   * products. (Its result is cast where a float op reads it; the ones that matter read it through
   * steps into products, as SwiGLU's gate, so no test of its readers.)
   */
  private boolean isLowSwish(Node n) {
    if (!kernels || swish(n) == null) {
      return false;
    }
    return memo(
        lowKernel,
        n,
        () -> s.elemType(swish(n).x()) == DataType.FLOAT_VALUE && computable(swish(n).x()));
  }

  /** The swish whose sigmoid or scaling {@code r} is, or null. */
  private Node swishAround(Node r) {
    Node next = onlyReader(r.out(0));
    if (r.op().equals("Sigmoid") && r.domain().isEmpty()) {
      Swishes.Match w = swish(next);
      return w != null && w.sigmoid() == r ? next : null;
    }
    Node outer = next == null ? null : onlyReader(next.out(0));
    Swishes.Match w = swish(outer);
    return w != null && w.scaled() == r ? outer : null;
  }

  /** Whether {@code v} comes from products through data movement and elementwise steps only. */
  private boolean computable(String v) {
    return memo(
        computable,
        v,
        () -> {
          Node p = producers.get(v);
          if (p == null) {
            return false;
          }
          if (!p.domain().isEmpty()) {
            return isLowSoftmaxGrad(p)
                || isLowActivationGrad(p)
                || p.op().equals(FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD) && isLowCrossEntropy(p);
          }
          if (PRODUCTS.contains(p.op()) || isLowSwish(p)) {
            return true;
          }
          if (isMove(p) || isFloatToFloat(p)) {
            return computable(p.in(0));
          }
          if (isJoin(p)) {
            return p.inputs().stream().allMatch(this::computable);
          }
          if (isStep(p)) {
            List<String> xs = operands(p);
            return xs.stream().allMatch(x -> computable(x) || cheap(x, v))
                && xs.stream().anyMatch(this::computable);
          }
          return isLowSoftmax(p) || isLowGelu(p);
        });
  }

  /**
   * A memoised predicate: false while it is worked out (the walks go backward and forward and may
   * meet again; a false answer only leaves a cast in place).
   */
  private static <K> boolean memo(Map<K, Boolean> memo, K key, BooleanSupplier test) {
    Boolean known = memo.get(key);
    if (known != null) {
      return known;
    }
    memo.put(key, false);
    boolean answer = test.getAsBoolean();
    memo.put(key, answer);
    return answer;
  }

  /**
   * A weight (its cast is folded at load), a scalar graph input (cast in no time), or an operand
   * that {@code result} broadcasts (an attention mask: smaller, and cast once for every layer).
   */
  private boolean cheap(String x, String result) {
    return g.initializers().containsKey(x)
        || g.isInput(x) && s.rank(x) == 0
        || broadcasts(x, result);
  }

  private boolean broadcasts(String x, String result) {
    List<Dim> a = s.type(x).dims();
    List<Dim> b = s.type(result).dims();
    if (a == null || b == null) {
      return false;
    }
    if (a.size() < b.size()) {
      return true;
    }
    for (int i = 1; i <= a.size() && i <= b.size(); i++) {
      if (a.get(a.size() - i).is(1) && !b.get(b.size() - i).is(1)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether only products read {@code v}: directly, through data movement, or through steps that
   * run in bfloat16 themselves, or a bfloat16 softmax and its gradient; its shape may be read too.
   */
  private boolean feedsOnlyLowReaders(String v) {
    return memo(
        feedsOnly,
        v,
        () -> {
          List<Node> readers = consumers.getOrDefault(v, List.of());
          return !g.isOutput(v)
              && !readers.isEmpty()
              && readers.stream().allMatch(r -> readsLow(r, v));
        });
  }

  private boolean readsLow(Node r, String v) {
    if (isSoftmaxGrad(r) || isActivationGrad(r)) {
      // it reads the saved value (the probabilities; the activation's input) in whichever type the
      // forward holds it, and its incoming gradient in bfloat16 only if it runs in bfloat16 itself
      return r.in(1).equals(v) && !r.in(0).equals(v)
          || isLowSoftmaxGrad(r)
          || isLowActivationGrad(r);
    }
    if (isCrossEntropy(r)) {
      return logitsOf(r).equals(v) && isLowCrossEntropy(r);
    }
    if (isNormGrad(r)) {
      return r.in(0).equals(v) && isLowNormGrad(r);
    }
    if (!r.domain().isEmpty()) {
      return false;
    }
    if (PRODUCTS.contains(r.op()) || r.op().equals("Shape")) {
      return true;
    }
    if (isLowSwish(r)) {
      return true;
    }
    Node swish = swishAround(r); // its sigmoid or scaling: gone once the swish is one op
    if (swish != null) {
      return isLowSwish(swish);
    }
    if (isMove(r) || isFloatToFloat(r)) { // every output (Split's) read only by products, or none
      return r.in(0).equals(v)
          && r.outputs().stream().allMatch(o -> feedsOnlyLowReaders(o) || isUnused(o));
    }
    if (r.op().equals("Softmax")) {
      return isLowSoftmax(r);
    }
    if (r.op().equals("Gelu")) {
      return isLowGelu(r);
    }
    return isStep(r) && computable(r.out(0)) && feedsOnlyLowReaders(r.out(0));
  }

  private boolean isUnused(String v) {
    return !consumers.containsKey(v) && !g.isOutput(v);
  }

  private boolean operandsFloat(Node n) {
    return operands(n).stream().allMatch(v -> v.isEmpty() || s.elemType(v) == DataType.FLOAT_VALUE);
  }

  /**
   * The bfloat16 version of a float value. Data movement is repeated on bfloat16 rather than cast
   * after: where its input already has a bfloat16 version (no cast at all), or where only products
   * read its result (the cast moves before it, and it moves half the bytes).
   */
  private String lowOf(String v) {
    String l = low.get(v);
    if (l != null) {
      return l;
    }
    Node p = producers.get(v);
    if (isFloatToFloat(p)) { // the same values: its input's bfloat16 version
      l = lowOf(p.in(0));
      low.put(v, l);
      return l;
    }
    if (isMove(p) && (hasLowSource(p.in(0)) || onlyProductsRead(v))) {
      List<String> in = new ArrayList<>(p.inputs());
      in.set(0, lowOf(p.in(0)));
      List<String> outs = new ArrayList<>();
      for (String o : p.outputs()) { // all of Split's outputs at once
        String ol = g.fresh(o + "/bf16");
        outs.add(ol);
        low.put(o, ol);
      }
      out.add(new Node(p.op(), "", g.fresh(p.name() + "/bf16"), in, outs, p.attrs()));
      return low.get(v);
    }
    l = g.fresh(v + "/bf16");
    out.add(cast(v, l, DataType.BFLOAT16_VALUE));
    low.put(v, l);
    return l;
  }

  /** Whether {@code v} has a bfloat16 version, or follows from one by data movement alone. */
  private boolean hasLowSource(String v) {
    Node p = producers.get(v);
    return low.containsKey(v) || isMove(p) && hasLowSource(p.in(0));
  }

  private boolean onlyProductsRead(String v) {
    return consumers.getOrDefault(v, List.of()).stream()
        .allMatch(n -> n.domain().isEmpty() && PRODUCTS.contains(n.op()));
  }

  /** A Cast of a float32 value to float32 (TorchScript's {@code .to(float32)}): no change. */
  private boolean isFloatToFloat(Node p) {
    return p != null
        && p.domain().isEmpty()
        && p.op().equals("Cast")
        && p.i("to", 0) == DataType.FLOAT_VALUE
        && s.elemType(p.in(0)) == DataType.FLOAT_VALUE;
  }

  private static boolean isMove(Node p) {
    return p != null && p.domain().isEmpty() && MOVES.contains(p.op());
  }

  private Node cast(String from, String to, int type) {
    return new Node(
        "Cast",
        "",
        g.fresh(to + "/cast"),
        List.of(from),
        List.of(to),
        Map.of("to", Attr.i("to", type)));
  }
}
