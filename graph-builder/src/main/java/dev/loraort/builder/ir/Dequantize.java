package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A dynamically quantized export (ONNX Runtime's {@code quantize_dynamic}, as in langchain4j's "-q"
 * jars) made float, so that {@code prepare} finds its linear layers and trains LoRA on the
 * quantized model's weights, as QLoRA trains on a quantized base: each int8 weight is dequantized
 * once, to the values the quantized model multiplies by ((W_q - zero point) * scale), and its
 * product runs in float32 on the float activations (the activations are no longer quantized).
 *
 * <ul>
 *   <li>{@code DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast -> Mul(.,
 *       x_scale * W_scale)} becomes {@code MatMul(x, W)};
 *   <li>{@code Gather(T_q, ids) -> DequantizeLinear(., scale, zp)} with one scale (an embedding
 *       table) becomes {@code Gather(T, ids)};
 *   <li>in the QDQ form of static quantization, {@code DequantizeLinear(W_q, scale, zp)} of a
 *       stored weight becomes the float weight, and an activation's {@code QuantizeLinear ->
 *       DequantizeLinear} round trip with the same scale and zero point becomes the activation
 *       itself (no fake quantization in training);
 *   <li>ONNX Runtime's blockwise {@code com.microsoft.MatMulNBits(A, B_q, scales[, zero_points][,
 *       g_idx][, bias])} (its 4-bit and 8-bit weight-only quantization, as transformers.js's q4
 *       exports use; other widths stay) becomes {@code MatMul(A, W)} (and the bias's {@code Add}),
 *       W the [K, N] float weight it multiplies by: (q - zero point) * scale per block of {@code
 *       block_size} along K, the zero point 2^(bits-1) where none is given. An act-order export
 *       ({@code g_idx}) stays.
 * </ul>
 */
public final class Dequantize {
  /** Ops of quantized exports that {@link #apply} does not turn into float ones. */
  private static final Set<String> QUANTIZED =
      Set.of(
          "MatMulInteger",
          "ConvInteger",
          "QLinearMatMul",
          "QLinearConv",
          "DynamicQuantizeLinear",
          "QuantizeLinear",
          "DequantizeLinear",
          "MatMulNBits",
          "QAttention",
          "DynamicQuantizeMatMul",
          "MatMulIntegerToFloat");

  /** Ops of ONNX Runtime's contrib domain that {@link #apply} makes standard where it can. */
  public static final Set<String> CONTRIB_OPS = Set.of("MatMulNBits");

  private Dequantize() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph
   * @return how many products, tables, weights and activations were made float
   */
  public static int apply(Graph g) {
    int n = 0;
    for (Node q : new ArrayList<>(g.nodes())) {
      boolean dq = q.op().equals("DequantizeLinear");
      if (q.domain().isEmpty()
          && (q.op().equals("MatMulInteger")
              ? product(g, q)
              : dq && (table(g, q) || weight(g, q) || roundTrip(g, q)))) {
        n++;
      } else if (q.domain().equals(OnnxModels.MICROSOFT_DOMAIN)
          && q.op().equals("MatMulNBits")
          && blockwise(g, q)) {
        n++;
      }
    }
    if (n > 0) {
      g.removeDeadNodes();
      g.sortTopologically();
    }
    return n;
  }

  /**
   * @param g a graph after {@link #apply}
   * @return the quantized ops it still has, by name (empty for a float graph)
   */
  public static Set<String> remaining(Graph g) {
    Set<String> ops = new TreeSet<>();
    g.nodes().stream().map(Node::op).filter(QUANTIZED::contains).forEach(ops::add);
    return ops;
  }

  private static boolean product(Graph g, Node mm) {
    Map<String, Node> producers = g.producers();
    Map<String, List<Node>> readers = g.consumers();
    Node dq = producers.get(mm.in(0));
    TensorProto wq = g.initializers().get(mm.in(1));
    if (dq == null
        || !dq.op().equals("DynamicQuantizeLinear")
        || wq == null
        || wq.getDimsCount() != 2
        || mm.inputs().size() < 3
        || !mm.in(2).equals(dq.out(2))) {
      return false;
    }
    Node cast = only(readers, mm.out(0), "Cast");
    Node scaled = cast == null ? null : only(readers, cast.out(0), "Mul");
    if (cast == null || cast.i("to", 0) != DataType.FLOAT_VALUE || scaled == null) {
      return false;
    }
    Node scales = producers.get(scaled.in(scaled.in(0).equals(cast.out(0)) ? 1 : 0));
    if (scales == null || !scales.op().equals("Mul") || !scales.inputs().contains(dq.out(1))) {
      return false;
    }
    TensorProto ws = g.initializers().get(scales.in(scales.in(0).equals(dq.out(1)) ? 1 : 0));
    TensorProto wzp = mm.inputs().size() > 3 ? g.initializers().get(mm.in(3)) : null;
    String name = floatName(g, mm.in(1));
    TensorProto w = ws == null ? null : dequantized(name, wq, ws, wzp, 1); // per column
    if (w == null) {
      return false;
    }
    g.addInitializer(name, w);
    int at = g.nodes().indexOf(scaled);
    g.nodes()
        .set(
            at,
            new Node(
                "MatMul",
                "",
                mm.rawName(),
                List.of(dq.in(0), name),
                List.of(scaled.out(0)),
                Map.of()));
    return true;
  }

  private static boolean table(Graph g, Node dq) {
    if (!dq.op().equals("DequantizeLinear") || dq.inputs().size() < 2) {
      return false;
    }
    Node gather = g.producers().get(dq.in(0));
    TensorProto tq = gather == null ? null : g.initializers().get(gather.in(0));
    TensorProto scale = g.initializers().get(dq.in(1));
    TensorProto zp = dq.inputs().size() > 2 ? g.initializers().get(dq.in(2)) : null;
    // one scale: the gathered rows' dequantization is the table's
    if (tq == null
        || !gather.op().equals("Gather")
        || scale == null
        || Tensors.numel(scale) != 1
        || (zp == null && dq.inputs().size() > 2 && !dq.in(2).isEmpty())
        || (zp != null && Tensors.numel(zp) != 1)) {
      return false;
    }
    String name = floatName(g, gather.in(0));
    g.addInitializer(name, dequantized(name, tq, scale, zp, 0));
    int at = g.nodes().indexOf(dq);
    g.nodes()
        .set(
            at,
            new Node(
                "Gather",
                "",
                gather.rawName(),
                List.of(name, gather.in(1)),
                List.of(dq.out(0)),
                gather.attrs()));
    return true;
  }

  /** A stored weight's DequantizeLinear (per tensor, or per channel along its axis). */
  private static boolean weight(Graph g, Node dq) {
    TensorProto q = g.initializers().get(dq.in(0));
    TensorProto scale = dq.inputs().size() > 1 ? g.initializers().get(dq.in(1)) : null;
    TensorProto zp =
        dq.inputs().size() > 2 && !dq.in(2).isEmpty() ? g.initializers().get(dq.in(2)) : null;
    if (q == null
        || scale == null
        || (zp == null && dq.inputs().size() > 2 && !dq.in(2).isEmpty())
        || g.isOutput(dq.out(0))) {
      return false;
    }
    TensorProto w = dequantized(dq.out(0), q, scale, zp, (int) dq.i("axis", 1));
    if (w == null) {
      return false; // blocked quantization (opset 21's block_size) and other forms
    }
    g.addInitializer(dq.out(0), w);
    g.nodes().remove(dq);
    return true;
  }

  /** An activation's QuantizeLinear -> DequantizeLinear with the same scale and zero point. */
  private static boolean roundTrip(Graph g, Node dq) {
    Node q = g.producers().get(dq.in(0));
    if (q == null
        || !q.op().equals("QuantizeLinear")
        || !q.inputs()
            .subList(1, q.inputs().size())
            .equals(dq.inputs().subList(1, dq.inputs().size()))
        || q.i("axis", 1) != dq.i("axis", 1)
        || g.isOutput(dq.out(0))) {
      return false;
    }
    g.replaceUses(dq.out(0), q.in(0), Set.of());
    return true;
  }

  /** MatMulNBits with its weight, scales and zero points stored, without act-order. */
  private static boolean blockwise(Graph g, Node mm) {
    long k = mm.i("K", 0);
    long n = mm.i("N", 0);
    long bits = mm.i("bits", 4);
    long block = mm.i("block_size", 0);
    TensorProto bq = g.initializers().get(mm.in(1));
    TensorProto scales = mm.hasIn(2) ? g.initializers().get(mm.in(2)) : null;
    TensorProto zp = mm.hasIn(3) ? g.initializers().get(mm.in(3)) : null;
    TensorProto bias = mm.hasIn(5) ? g.initializers().get(mm.in(5)) : null;
    if (k <= 0
        || n <= 0
        || block <= 0
        || !(bits == 4 || bits == 8)
        || bq == null
        || bq.getDataType() != DataType.UINT8_VALUE
        || scales == null
        || (mm.hasIn(3) && zp == null)
        || mm.hasIn(4)
        || (mm.hasIn(5) && bias == null)) {
      return false;
    }
    long blocks = (k + block - 1) / block;
    long blob = block * bits / 8;
    double[] s = Tensors.doubles(scales);
    if (Tensors.numel(bq) != n * blocks * blob || s.length != n * blocks) {
      return false;
    }
    byte[] q = Tensors.raw(bq).toByteArray();
    // zero points: packed like the weight, ceil(blocks * bits / 8) bytes per column, or one value
    // of the scales' type per block
    boolean packed = zp != null && zp.getDataType() == DataType.UINT8_VALUE;
    byte[] zq = packed ? Tensors.raw(zp).toByteArray() : null;
    double[] zf = zp != null && !packed ? Tensors.doubles(zp) : null;
    long zRow = (blocks * bits + 7) / 8;
    if ((packed && zq.length != n * zRow) || (zf != null && zf.length != n * blocks)) {
      return false;
    }
    int perByte = (int) (8 / bits);
    int mask = (1 << bits) - 1;
    float[] w = new float[Math.toIntExact(k * n)]; // [K, N]: MatMul(A, W) = A B^T
    for (long col = 0; col < n; col++) {
      for (long b = 0; b < blocks; b++) {
        double scale = s[(int) (col * blocks + b)];
        double zero =
            zf != null
                ? zf[(int) (col * blocks + b)]
                : packed
                    ? (zq[(int) (col * zRow + b / perByte)] >> ((b % perByte) * bits)) & mask
                    : 1 << (bits - 1);
        for (long i = 0; i < block && b * block + i < k; i++) {
          int v =
              (q[(int) ((col * blocks + b) * blob + i / perByte)] >> ((i % perByte) * bits)) & mask;
          w[(int) ((b * block + i) * n + col)] = (float) ((v - zero) * scale);
        }
      }
    }
    String name = floatName(g, mm.in(1));
    g.addInitializer(name, Tensors.floats(name, new long[] {k, n}, w));
    String product = bias == null ? mm.out(0) : g.fresh(mm.out(0) + "/product");
    List<Node> replacement = new ArrayList<>();
    replacement.add(
        new Node("MatMul", "", mm.rawName(), List.of(mm.in(0), name), List.of(product), Map.of()));
    if (bias != null) {
      replacement.add(
          new Node(
              "Add",
              "",
              mm.rawName() + "/bias",
              List.of(product, mm.in(5)),
              List.of(mm.out(0)),
              Map.of()));
    }
    int at = g.nodes().indexOf(mm);
    g.nodes().remove(at);
    g.nodes().addAll(at, replacement);
    return true;
  }

  /** The reader of {@code value} when it has exactly one and it is a {@code op}. */
  private static Node only(Map<String, List<Node>> readers, String value, String op) {
    List<Node> r = readers.getOrDefault(value, List.of());
    return r.size() == 1 && r.get(0).op().equals(op) ? r.get(0) : null;
  }

  /**
   * (q - zero point) * scale in float32, named {@code name}; the scale and the zero point (null: 0)
   * each one value or one per index of q's {@code axis}, else null.
   */
  private static TensorProto dequantized(
      String name, TensorProto q, TensorProto scale, TensorProto zp, int axis) {
    long[] dims = Tensors.dims(q);
    int a = axis < 0 ? axis + dims.length : axis;
    if (!oneOrPerIndex(scale, dims, a) || (zp != null && !oneOrPerIndex(zp, dims, a))) {
      return null;
    }
    long stride = 1;
    for (int i = a + 1; i < dims.length; i++) {
      stride *= dims[i];
    }
    double[] v = Tensors.doubles(q);
    double[] s = Tensors.doubles(scale);
    double[] z = zp == null ? new double[] {0} : Tensors.doubles(zp);
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      int c = a >= 0 && a < dims.length ? (int) ((i / stride) % dims[a]) : 0;
      f[i] = (float) ((v[i] - z[z.length == 1 ? 0 : c]) * s[s.length == 1 ? 0 : c]);
    }
    return Tensors.floats(name, dims, f);
  }

  private static boolean oneOrPerIndex(TensorProto t, long[] dims, int axis) {
    long n = Tensors.numel(t);
    return n == 1 || (t.getDimsCount() == 1 && axis >= 0 && axis < dims.length && n == dims[axis]);
  }

  /** The quantized initializer's name without the quantizer's suffix, where that name is free. */
  private static String floatName(Graph g, String quantized) {
    String plain =
        quantized.endsWith("_quantized")
            ? quantized.substring(0, quantized.length() - "_quantized".length())
            : quantized + "_float";
    return g.initializers().containsKey(plain) || g.producers().containsKey(plain)
        ? g.fresh(plain)
        : plain;
  }
}
