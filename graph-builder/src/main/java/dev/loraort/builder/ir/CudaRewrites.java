package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites what keeps the CUDA execution provider from capturing a prepared step as a CUDA graph
 * into equivalents it can capture, so that the step replays as one graph:
 *
 * <ul>
 *   <li>GatherND (transformers' attention-mask code in every family; CLIP's end-of-text pooling):
 *       ONNX Runtime's CUDA kernel stages the slice sizes through a host buffer that a replayed
 *       graph reads after it is freed. It becomes Gather on the data flattened over the indexed
 *       axes, at the flat index {@code sum_i idx_i * stride_i}, a negative component first moved up
 *       by its dim as GatherND reads it. Gather's gradient is a ScatterElements, which also
 *       captures.
 *   <li>ArgMax over integers (CLIP's end-of-text position): the CUDA EP's ArgMax takes floating
 *       types only, so the node ran on the CPU. Its input is cast to double first, exact for every
 *       type narrower than 64 bits; int64 inputs are left alone.
 *   <li>A dim that a device kernel reads from a Shape ({@link #moveDimsToDevice}): Shape's output
 *       lives in host memory on the CUDA EP, and ONNX Runtime refuses to capture a graph whose
 *       kernels need a host value copied in. {@link #hostReads} names the reads that remain.
 * </ul>
 *
 * The values are the same on every execution provider; the CPU EP runs the rewritten graph too.
 */
public final class CudaRewrites {
  private static final Set<Integer> EXACT_IN_DOUBLE =
      Set.of(
          DataType.BOOL_VALUE,
          DataType.INT8_VALUE,
          DataType.UINT8_VALUE,
          DataType.INT16_VALUE,
          DataType.UINT16_VALUE,
          DataType.INT32_VALUE,
          DataType.UINT32_VALUE);

  private CudaRewrites() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph (opset 13 or newer)
   * @param s its shapes
   * @return how many GatherND and ArgMax nodes were rewritten
   */
  public static int[] apply(Graph g, Shapes s) {
    int gathers = 0;
    int argmaxes = 0;
    for (Node n : new ArrayList<>(g.nodes())) {
      if (n.op().equals("GatherND") && n.domain().isEmpty() && gatherNd(g, s, n)) {
        gathers++;
      } else if (n.op().equals("ArgMax")
          && n.domain().isEmpty()
          && EXACT_IN_DOUBLE.contains(s.elemType(n.in(0)))) {
        Emitter e = new Emitter(g, n.out(0) + "/cuda");
        n.setInput(0, e.op("Cast", List.of(n.in(0)), Attr.i("to", DataType.DOUBLE_VALUE)));
        argmaxes++;
      }
    }
    if (gathers + argmaxes > 0) {
      g.sortTopologically();
    }
    return new int[] {gathers, argmaxes};
  }

  /** Replaces one GatherND by Reshape + Gather; false where its form is not the plain one. */
  private static boolean gatherNd(Graph g, Shapes s, Node n) {
    String data = n.in(0);
    String idx = n.in(1);
    int r = s.rank(data);
    ValueType it = s.type(idx);
    if (n.i("batch_dims", 0) != 0 || r < 1 || it == null || it.rank() < 1) {
      return false;
    }
    Dim last = it.dim(it.rank() - 1);
    if (!last.known() || last.value() < 1 || last.value() > r) {
      return false;
    }
    int k = (int) last.value();
    Emitter e = new Emitter(g, n.out(0) + "/cuda");
    List<Dim> shape = s.type(data).dims();
    String dataShape = e.op("Shape", data);
    List<String> dims = new ArrayList<>(); // dims 0..k-1 of data, each a 0-d int64
    for (int i = 0; i < k; i++) {
      Dim d = shape.get(i);
      dims.add(d.known() ? e.int64(d.value()) : deviceDim(e, dataShape, i));
    }
    String flat = null;
    String stride = null; // product of dims i+1..k-1
    for (int i = k - 1; i >= 0; i--) {
      String c = e.op("Gather", List.of(idx, e.int64(i)), Attr.i("axis", -1));
      // GatherND reads -1 as the last position along its axis; Gather on the flat axis would not
      c = e.op("Where", e.op("Less", c, e.int64(0)), e.add(c, dims.get(i)), c);
      String term = stride == null ? c : e.mul(c, stride);
      flat = flat == null ? term : e.add(flat, term);
      stride = stride == null ? dims.get(i) : e.mul(stride, dims.get(i));
    }
    String flatShape =
        k == r
            ? e.ints(-1)
            : e.op(
                "Concat",
                List.of(e.ints(-1), e.op("Slice", dataShape, e.ints(k), e.ints(r), e.ints(0))),
                Attr.i("axis", 0));
    String flatData = e.reshape(data, flatShape);
    g.nodes().remove(n);
    g.add(
        new Node(
            "Gather",
            "",
            n.name(),
            List.of(flatData, flat),
            List.of(n.out(0)),
            Map.of("axis", Attr.i("axis", 0))));
    return true;
  }

  /** Inputs the CUDA EP reads from host memory (shapes, axes, pads, ranges), by op. */
  private static final Map<String, Set<Integer>> HOST_INPUTS =
      Map.ofEntries(
          Map.entry("Reshape", Set.of(1)),
          Map.entry("Expand", Set.of(1)),
          Map.entry("Slice", Set.of(1, 2, 3, 4)),
          Map.entry("ConstantOfShape", Set.of(0)),
          Map.entry("Tile", Set.of(1)),
          Map.entry("Range", Set.of(0, 1, 2)),
          Map.entry("Unsqueeze", Set.of(1)),
          Map.entry("Squeeze", Set.of(1)),
          Map.entry("Pad", Set.of(1, 3)),
          Map.entry("ReduceSum", Set.of(1)),
          Map.entry("ReduceMean", Set.of(1)),
          Map.entry("ReduceMax", Set.of(1)),
          Map.entry("ReduceMin", Set.of(1)),
          Map.entry("ReduceProd", Set.of(1)),
          Map.entry("Split", Set.of(1)),
          Map.entry("TopK", Set.of(1)),
          Map.entry("Trilu", Set.of(1)),
          Map.entry("OneHot", Set.of(1)));

  /** Small integer ops that ONNX Runtime places on the host when they only compute shapes. */
  private static final Set<String> SHAPE_ARITHMETIC =
      Set.of(
          "Gather",
          "Slice",
          "Concat",
          "Unsqueeze",
          "Squeeze",
          "Cast",
          "Add",
          "Sub",
          "Mul",
          "Div",
          "ReduceProd",
          "Identity",
          "Equal",
          "Where",
          "Max",
          "Min",
          "Neg",
          "Reshape",
          "Range",
          "Less",
          "Greater",
          "Not",
          "Mod",
          "Expand",
          "Floor",
          "Ceil",
          "ConstantOfShape");

  /**
   * Nodes that read a host value where the CUDA EP wants device memory, so that ONNX Runtime must
   * copy it to the device, and refuses to capture a graph with copy nodes. Host values are Shape's
   * and Size's outputs and the shape arithmetic whose every use is a host input (a shape, axes,
   * pads), as ONNX Runtime places them; the tests assert that no prepared graph has such a read.
   *
   * @param g a topologically sorted graph
   * @return "op name reads value" for each such read; empty when nothing needs a copy
   */
  public static List<String> hostReads(Graph g) {
    List<String> out = new ArrayList<>();
    for (Read r : placement(g).reads()) {
      out.add(r.node().op() + " " + r.node().name() + " reads " + r.node().in(r.input()));
    }
    return out;
  }

  /**
   * Moves every dim that a device kernel reads from the host onto the device, where {@link
   * #deviceDim} computes it: a Gather of a Shape at a constant index whose value feeds device
   * kernels (TorchScript's position and mask arithmetic). Its host readers keep the Gather. Other
   * host reads are left for {@link #hostReads} to name.
   *
   * @param g a topologically sorted graph
   * @return how many dims were moved
   */
  public static int moveDimsToDevice(Graph g) {
    Placement p = placement(g);
    Map<String, Node> producers = g.producers();
    Map<String, List<Node>> consumers = g.consumers();
    int n = 0;
    for (Read r : p.reads()) {
      Node gather = r.node();
      Node shape = producers.get(gather.in(0));
      TensorProto at = g.initializers().get(gather.in(1));
      long[] index = gather.op().equals("Gather") && at != null ? Tensors.longs(at) : null;
      if (r.input() != 0
          || shape == null
          || !shape.op().equals("Shape")
          || shape.has("start")
          || index == null
          || index.length != 1
          || index[0] < 0) {
        continue;
      }
      Emitter e = new Emitter(g, gather.out(0) + "/cuda");
      String dim = deviceDim(e, shape.out(0), Math.toIntExact(index[0]));
      if (at.getDimsCount() == 1) { // [i] gathers a [1] vector
        dim = e.op("Unsqueeze", dim, e.ints(0));
      }
      for (Node c : consumers.getOrDefault(gather.out(0), List.of())) {
        Set<Integer> hostIn = HOST_INPUTS.getOrDefault(c.op(), Set.of());
        for (int i = 0; i < c.inputs().size(); i++) {
          if (c.in(i).equals(gather.out(0)) && !p.host().contains(c) && !hostIn.contains(i)) {
            c.setInput(i, dim);
          }
        }
      }
      n++;
    }
    if (n > 0) {
      g.sortTopologically();
      g.removeDeadNodes();
    }
    return n;
  }

  /** Input {@code input} of {@code node} is a host value read on the device. */
  private record Read(Node node, int input) {}

  /** The nodes ONNX Runtime runs on the host, and the device reads of their values. */
  private record Placement(Set<Node> host, List<Read> reads) {}

  private static Placement placement(Graph g) {
    Map<String, List<Node>> consumers = g.consumers();
    Set<String> outputs = new HashSet<>();
    g.outputs().forEach(v -> outputs.add(v.getName()));
    Set<Node> host = new HashSet<>();
    List<Node> nodes = g.nodes();
    for (int k = nodes.size() - 1; k >= 0; k--) {
      Node n = nodes.get(k);
      boolean onHost = n.op().equals("Shape") || n.op().equals("Size");
      if (!onHost && SHAPE_ARITHMETIC.contains(n.op())) {
        onHost = true;
        for (String v : n.outputs()) {
          List<Node> uses = consumers.getOrDefault(v, List.of());
          onHost &= !outputs.contains(v) && !uses.isEmpty();
          for (Node c : uses) {
            onHost &= host.contains(c) || readsOnHost(c, v);
          }
        }
      }
      if (onHost) {
        host.add(n);
      }
    }
    Map<String, Node> producers = g.producers();
    List<Read> reads = new ArrayList<>();
    for (Node n : nodes) {
      if (host.contains(n)) {
        continue;
      }
      for (int i = 0; i < n.inputs().size(); i++) {
        Node p = producers.get(n.in(i));
        boolean hostInput = HOST_INPUTS.getOrDefault(n.op(), Set.of()).contains(i);
        if (p != null && host.contains(p) && !hostInput) {
          reads.add(new Read(n, i));
        }
      }
    }
    return new Placement(host, reads);
  }

  /** Whether every input of {@code c} that is {@code v} is one the CUDA EP reads on the host. */
  private static boolean readsOnHost(Node c, String v) {
    Set<Integer> hostIn = HOST_INPUTS.getOrDefault(c.op(), Set.of());
    for (int i = 0; i < c.inputs().size(); i++) {
      if (c.in(i).equals(v) && !hostIn.contains(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Dim {@code i} of a shape as a 0-d int64 computed on the device. Shape's output lives in host
   * memory on the CUDA EP, and a host value read by a device kernel needs a copy node, which keeps
   * ONNX Runtime from capturing the graph; a vector of ones of that length (ConstantOfShape reads
   * its shape from the host) summed on the device is the dim, exact below 2^24.
   */
  private static String deviceDim(Emitter e, String shape, int i) {
    String ones =
        e.op(
            "ConstantOfShape",
            List.of(e.op("Slice", shape, e.ints(i), e.ints(i + 1), e.ints(0))),
            Attr.t(
                "value", Tensors.floats(e.graph().fresh("one"), new long[] {1}, new float[] {1})));
    return e.op(
        "Cast",
        List.of(e.op("ReduceSum", List.of(ones, e.ints(0)), Attr.i("keepdims", 0))),
        Attr.i("to", DataType.INT64_VALUE));
  }
}
