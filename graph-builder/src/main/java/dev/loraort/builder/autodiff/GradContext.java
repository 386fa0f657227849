package dev.loraort.builder.autodiff;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.BuildException;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.GraphLookup;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link GradRule} works with: the node being differentiated, which of its inputs need a
 * gradient, the forward graph's shapes, an emitter for new nodes, and the helpers every rule shares
 * (broadcast reduction, zeros, shapes of forward values made once).
 */
public final class GradContext implements GraphLookup {
  private final Graph g;
  private final Emitter e;
  private final Shapes s;
  private final Map<String, String> shapeOf = new HashMap<>();
  private final Map<String, Node> producers;
  private Node node;
  private boolean[] needs;

  GradContext(Graph g, Shapes s) {
    this.g = g;
    this.e = new Emitter(g, "grad");
    this.s = s;
    this.producers = g.producers();
  }

  GradContext at(Node n, boolean[] needs) {
    this.node = n;
    this.needs = needs.clone();
    return this;
  }

  /**
   * @param i an input index
   * @return true if input i needs a gradient
   */
  public boolean needs(int i) {
    return i < needs.length && needs[i];
  }

  /**
   * @return the emitter for new nodes
   */
  public Emitter e() {
    return e;
  }

  /**
   * @param v a forward value
   * @return its type and shape
   */
  public ValueType type(String v) {
    return s.type(v);
  }

  /**
   * @param v a forward value
   * @return its rank
   * @throws BuildException if unknown: the rule cannot be written without it
   */
  @Override
  public int rank(String v) {
    int r = s.rank(v);
    if (r < 0) {
      throw new BuildException(
          g.source()
              + ": node "
              + node.name()
              + " ("
              + node.op()
              + "): the rank of "
              + v
              + " is unknown, and its gradient rule needs it");
    }
    return r;
  }

  /**
   * @param v a forward value
   * @return its element type
   */
  public int elem(String v) {
    int t = s.elemType(v);
    return t == 0 ? DataType.FLOAT_VALUE : t;
  }

  /**
   * @param v a forward value
   * @return the forward node that computes it, or null (an input or a weight)
   */
  @Override
  public Node producer(String v) {
    return producers.get(v);
  }

  /**
   * @param v an integer forward value
   * @return its values when all are fixed numbers, else null
   */
  @Override
  public long[] constants(String v) {
    return s.constants(v);
  }

  /**
   * @param v a forward value
   * @return the values of a float constant (initializer), or null
   */
  @Override
  public double[] floatConstant(String v) {
    return g.initializers().containsKey(v) ? Tensors.doubles(g.initializers().get(v)) : null;
  }

  /**
   * @param v a value
   * @param like a value of the wanted float type
   * @return a scalar constant of that type
   */
  public String scalar(double v, String like) {
    return e.scalar(v, elem(like));
  }

  /**
   * @param v a forward value
   * @return Shape(v), emitted once per value
   */
  public String shapeOf(String v) {
    return shapeOf.computeIfAbsent(v, k -> e.op("Shape", k));
  }

  /**
   * @param v a forward value
   * @return zeros of its shape and type
   */
  public String zerosLike(String v) {
    return e.op(
        "ConstantOfShape",
        List.of(shapeOf(v)),
        Attr.t("value", Tensors.scalar("value", elem(v), 0).toBuilder().addDims(1).build()));
  }

  /**
   * The forward node's output i, adding it to the node when the model did not ask for it
   * (LayerNormalization's Mean and InvStdDev): the backward reuses it instead of recomputing.
   *
   * @param i output index
   * @param type its type
   * @return its name
   */
  public String forwardOutput(int i, ValueType type) {
    if (!node.out(i).isEmpty()) {
      return node.out(i);
    }
    List<String> outs = new ArrayList<>(node.outputs());
    while (outs.size() <= i) {
      outs.add("");
    }
    String name = g.fresh(node.out(0) + "_out" + i);
    outs.set(i, name);
    Node m = new Node(node.op(), node.domain(), node.rawName(), node.inputs(), outs, node.attrs());
    int at = g.nodes().indexOf(node);
    g.nodes().set(at, m);
    node = m;
    s.declare(name, type);
    return name;
  }

  /**
   * Sums a gradient over the dims its target was broadcast along, so it takes the target's shape.
   * Decided from static shapes where they tell; otherwise in the graph, from the runtime shapes.
   *
   * @param grad the gradient
   * @param gradDims grad's dims (those of the op's output, typically)
   * @param target the input it is the gradient of
   * @return a gradient of target's shape
   */
  public String unbroadcast(String grad, List<Dim> gradDims, String target) {
    List<Dim> t = type(target).dims();
    if (gradDims == null || t == null) {
      return dynamicUnbroadcast(grad, target);
    }
    int lead = gradDims.size() - t.size();
    if (lead < 0) {
      return dynamicUnbroadcast(grad, target);
    }
    List<Long> axes = new ArrayList<>();
    for (int i = 0; i < gradDims.size(); i++) {
      if (i < lead) {
        axes.add((long) i);
        continue;
      }
      Dim td = t.get(i - lead);
      Dim gd = gradDims.get(i);
      if (td.equals(gd) || (td.known() && !td.is(1)) || (gd.is(1))) {
        continue;
      }
      if (td.is(1)) {
        axes.add((long) i);
        continue;
      }
      return dynamicUnbroadcast(grad, target);
    }
    if (axes.isEmpty()) {
      return grad;
    }
    String r = e.reduceSum(grad, e.ints(axes.stream().mapToLong(Long::longValue).toArray()), true);
    return lead == 0 ? r : e.reshape(r, shapeOf(target));
  }

  /**
   * @param grad a gradient shaped like the node's output {@code out}
   * @param out the forward output it is the gradient of
   * @param target the input to reduce it to
   * @return the reduced gradient
   */
  public String unbroadcast(String grad, String out, String target) {
    return unbroadcast(grad, type(out).dims(), target);
  }

  private String dynamicUnbroadcast(String grad, String target) {
    // reduce every axis where the target (left-padded with ones) is 1: summing an axis that is
    // already 1 in the gradient changes nothing, so no comparison with the gradient is needed
    String gs = e.op("Shape", grad);
    String ts = shapeOf(target);
    String rankDiff = e.sub(e.op("Size", gs), e.op("Size", ts));
    String ones =
        e.op(
            "ConstantOfShape",
            List.of(e.op("Unsqueeze", List.of(rankDiff, e.ints(0)))),
            Attr.t("value", Tensors.int64s("value", new long[] {1}, 1)));
    String padded = e.op("Concat", List.of(ones, ts), Attr.i("axis", 0));
    String axes =
        e.op("Squeeze", List.of(e.op("NonZero", e.op("Equal", padded, e.ints(1))), e.ints(0)));
    String r =
        e.op(
            "ReduceSum",
            List.of(grad, axes),
            Attr.i("keepdims", 1),
            Attr.i("noop_with_empty_axes", 1));
    return e.reshape(r, ts);
  }
}
