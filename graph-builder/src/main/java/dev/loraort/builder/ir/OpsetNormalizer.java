package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Brings a graph of opset 11 or newer to one form, so each gradient rule sees one: axes, split
 * sizes and bounds are inputs (opset 13 for Squeeze, Unsqueeze, ReduceSum and Split; 18 for the
 * other reductions), Constant nodes become initializers, inference Dropout becomes Identity, and
 * the graph declares opset {@code max(TARGET, source)}. Softmax of opset < 13 (which flattens to
 * 2-D from its axis) is handled once shapes are known: {@link #fixLegacySoftmax}.
 */
public final class OpsetNormalizer {
  /** The opset every normalized graph declares at least. */
  public static final int TARGET = 18;

  private static final Set<String> REDUCE_18 =
      Set.of(
          "ReduceMean",
          "ReduceMax",
          "ReduceMin",
          "ReduceProd",
          "ReduceL1",
          "ReduceL2",
          "ReduceLogSum",
          "ReduceLogSumExp",
          "ReduceSumSquare");
  private static final Set<String> LEGACY_SOFTMAX = Set.of("Softmax", "LogSoftmax", "Hardmax");
  private static final Set<String> REMOVED =
      Set.of("Upsample", "Scatter", "ImageScaler", "Crop", "ScaledTanh");

  private OpsetNormalizer() {}

  /**
   * Refuses ops outside ai.onnx, as an ONNX Runtime-optimized export has them.
   *
   * @param g a graph
   * @param allowed ops of com.microsoft that a later rewrite makes standard ({@link Dequantize})
   * @throws BuildException naming the ops and how to export without them
   */
  public static void refuseForeignOps(Graph g, Set<String> allowed) {
    Map<String, List<String>> foreign = new TreeMap<>();
    for (Node n : g.nodes()) {
      if (!n.domain().isEmpty()
          && !(n.domain().equals(OnnxModels.MICROSOFT_DOMAIN) && allowed.contains(n.op()))) {
        foreign.computeIfAbsent(n.domain() + "." + n.op(), k -> new ArrayList<>()).add(n.name());
      }
    }
    if (!foreign.isEmpty()) {
      throw new BuildException(
          g.source()
              + ": ops outside ai.onnx "
              + foreign.keySet()
              + " (e.g. node "
              + foreign.values().iterator().next().get(0)
              + "). The training graphs use standard ONNX ops only, so prepare needs the model"
              + " as exported, before ONNX Runtime's transformer optimizer fused it: export with"
              + " torch.onnx.export (or Optimum without --optimize) and skip"
              + " onnxruntime.transformers.optimizer");
    }
  }

  /**
   * Rewrites the graph in place.
   *
   * @param g a graph read from a file
   * @return the legacy Softmax-family nodes (source opset &lt; 13) whose axis {@link
   *     #fixLegacySoftmax} must check once ranks are known
   * @throws BuildException if the graph uses ops of other domains or ops removed from ai.onnx
   */
  public static List<Node> normalize(Graph g) {
    int src = g.opset();
    for (Node n : g.nodes()) {
      if (n.domain().isEmpty() && REMOVED.contains(n.op())) {
        throw new BuildException(
            g.source() + ": node " + n.name() + " uses " + n.op() + ", removed from ai.onnx");
      }
    }
    refuseForeignOps(g, Dequantize.CONTRIB_OPS);
    List<Node> legacySoftmax = new ArrayList<>();
    List<Node> out = new ArrayList<>();
    for (Node n : g.nodes()) {
      if (n.op().equals("Constant")) {
        g.addInitializer(n.out(0), constantValue(g, n));
        continue;
      }
      Node m = n;
      if (src < 13 && (n.op().equals("Squeeze") || n.op().equals("Unsqueeze"))
          || src < 13 && n.op().equals("ReduceSum")
          || src < 18 && REDUCE_18.contains(n.op())) {
        m = attrToInput(g, n, "axes", 1);
      } else if (src < 13 && n.op().equals("Split")) {
        m = attrToInput(g, n, "split", 1);
      } else if (n.op().equals("Dropout")) {
        m = new Node("Identity", "", n.rawName(), List.of(n.in(0)), List.of(n.out(0)), Map.of());
        if (n.outputs().size() > 1 && !n.out(1).isEmpty()) {
          if (g.consumers().containsKey(n.out(1))) {
            throw new BuildException(
                g.source()
                    + ": node "
                    + n.name()
                    + " reads Dropout's mask; training graphs run"
                    + " without dropout (docs/graph-contract.md)");
          }
        }
      } else if (src < 13 && LEGACY_SOFTMAX.contains(n.op())) {
        legacySoftmax.add(n);
      }
      out.add(m);
    }
    g.nodes().clear();
    g.nodes().addAll(out);
    g.setOpset(Math.max(TARGET, src));
    return legacySoftmax;
  }

  /**
   * Makes opset &lt; 13 Softmax, LogSoftmax and Hardmax mean what they meant: they flattened the
   * input to 2-D at {@code axis} (default 1). Where the axis is the last one the meaning is the
   * same in every opset; otherwise the node becomes Flatten, the op over the last axis, Reshape.
   *
   * @param g the graph
   * @param legacy the nodes {@link #normalize} returned
   * @param rank the rank of a value, or -1 when unknown
   */
  public static void fixLegacySoftmax(
      Graph g, List<Node> legacy, java.util.function.ToIntFunction<String> rank) {
    for (Node n : legacy) {
      int r = rank.applyAsInt(n.in(0));
      long axis = n.i("axis", 1);
      long a = axis < 0 && r >= 0 ? axis + r : axis;
      int at = g.nodes().indexOf(n);
      if (r >= 0 && a == r - 1) {
        Map<String, AttributeProto> attrs = new LinkedHashMap<>(n.attrs());
        attrs.put("axis", Attr.i("axis", -1));
        g.nodes().set(at, new Node(n.op(), "", n.rawName(), n.inputs(), n.outputs(), attrs));
        continue;
      }
      String flat = g.fresh(n.out(0) + "_flat");
      String soft = g.fresh(n.out(0) + "_2d");
      String shape = g.fresh(n.out(0) + "_shape");
      List<Node> rep =
          List.of(
              new Node(
                  "Flatten",
                  "",
                  "",
                  List.of(n.in(0)),
                  List.of(flat),
                  Map.of("axis", Attr.i("axis", axis))),
              new Node(
                  n.op(),
                  "",
                  n.rawName(),
                  List.of(flat),
                  List.of(soft),
                  Map.of("axis", Attr.i("axis", -1))),
              new Node("Shape", "", "", List.of(n.in(0)), List.of(shape), Map.of()),
              new Node("Reshape", "", "", List.of(soft, shape), List.of(n.out(0)), Map.of()));
      g.nodes().remove(at);
      g.nodes().addAll(at, rep);
    }
  }

  private static Node attrToInput(Graph g, Node n, String attr, int index) {
    long[] v = n.ints(attr);
    if (v == null) {
      return n;
    }
    String name = g.fresh(n.out(0) + "_" + attr);
    g.addInitializer(name, Tensors.int64s(name, new long[] {v.length}, v));
    Map<String, AttributeProto> attrs = new LinkedHashMap<>(n.attrs());
    attrs.remove(attr);
    List<String> in = new ArrayList<>(n.inputs());
    while (in.size() < index) {
      in.add("");
    }
    in.add(index, name);
    return new Node(n.op(), "", n.rawName(), in, n.outputs(), attrs);
  }

  private static TensorProto constantValue(Graph g, Node n) {
    String name = n.out(0);
    for (AttributeProto a : n.attrs().values()) {
      switch (a.getName()) {
        case "value":
          return a.getT().toBuilder().setName(name).build();
        case "value_float":
          return Tensors.scalar(name, DataType.FLOAT_VALUE, a.getF());
        case "value_int":
          return Tensors.int64s(name, new long[0], a.getI());
        case "value_ints":
          {
            long[] v = a.getIntsList().stream().mapToLong(Long::longValue).toArray();
            return Tensors.int64s(name, new long[] {v.length}, v);
          }
        case "value_floats":
          {
            float[] v = new float[a.getFloatsCount()];
            for (int i = 0; i < v.length; i++) {
              v[i] = a.getFloats(i);
            }
            return Tensors.floats(name, new long[] {v.length}, v);
          }
        default:
          break;
      }
    }
    throw new BuildException(
        g.source()
            + ": Constant node "
            + n.name()
            + " has no value this builder reads "
            + n.attrs().keySet());
  }
}
