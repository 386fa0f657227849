package dev.loraort.builder.autodiff;

import dev.loraort.builder.BuildException;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The backward walk: appends to a graph the nodes that compute the gradient of a scalar loss with
 * respect to chosen inputs. Only nodes on a path from one of those inputs to the loss are
 * differentiated (frozen weights get no gradient), in reverse topological order; a value read by
 * several nodes sums their contributions with one Sum node.
 */
public final class Backward {
  private static final Set<String> CONTROL_FLOW = Set.of("If", "Loop", "Scan");

  /** The loss gradient's seed, a scalar 1: every gradient value descends from it. */
  private static final String SEED = "grad/seed";

  private Backward() {}

  /**
   * @param g the forward graph (topologically sorted); backward nodes are appended to it
   * @param shapes the forward graph's shapes
   * @param loss a scalar float value of g
   * @param wrt the values to differentiate with respect to (graph inputs)
   * @param constants values treated as constants: no gradient flows through them (a stop-gradient)
   * @return the gradient value of each of {@code wrt}, in its order
   * @throws BuildException if an op on the gradient path has no rule, is control flow, or a value
   *     of {@code wrt} does not reach the loss; the message names the node, its op, and a path that
   *     puts it there
   */
  public static Map<String, String> build(
      Graph g, Shapes shapes, String loss, List<String> wrt, Set<String> constants) {
    return build(g, shapes, loss, wrt, constants, false);
  }

  /**
   * As {@link #build(Graph, Shapes, String, List, Set)}, with the fused kernels' rules where one
   * applies ({@link FusedRules}).
   *
   * @param g the forward graph (topologically sorted); backward nodes are appended to it
   * @param shapes the forward graph's shapes
   * @param loss a scalar float value of g
   * @param wrt the values to differentiate with respect to (graph inputs)
   * @param constants values treated as constants: no gradient flows through them
   * @param fused emit dev.loraort fused kernels for GELU, LayerNormalization and Softmax
   * @return the gradient value of each of {@code wrt}, in its order
   * @throws BuildException as the plain build
   */
  public static Map<String, String> build(
      Graph g, Shapes shapes, String loss, List<String> wrt, Set<String> constants, boolean fused) {
    if (shapes.rank(loss) > 0) {
      throw new BuildException(
          g.source() + ": the loss " + loss + " must be a scalar, has shape " + shapes.type(loss));
    }
    List<Node> forward = new ArrayList<>(g.nodes());
    Map<String, Node> producer = g.producers();
    Set<String> varying = new HashSet<>(wrt);
    for (Node n : forward) {
      boolean v = false;
      for (int i = 0; i < n.inputs().size(); i++) {
        v |= varying.contains(n.in(i)) && GradRules.differentiable(n, i);
      }
      // If/Loop/Scan bodies read outer values without listing them as inputs
      v |= CONTROL_FLOW.contains(n.op()) && n.subgraphReads().stream().anyMatch(varying::contains);
      if (v) {
        for (String o : n.outputs()) {
          // an unknown type (an op shape inference does not know) may be float: it varies
          int t = shapes.elemType(o);
          if (!o.isEmpty() && (t == 0 || Tensors.isFloat(t)) && !constants.contains(o)) {
            varying.add(o);
          }
        }
      }
    }
    if (!varying.contains(loss)) {
      throw new BuildException(g.source() + ": the loss does not depend on " + wrt);
    }
    Set<String> relevant = new HashSet<>(Set.of(loss));
    List<Node> active = new ArrayList<>();
    for (int k = forward.size() - 1; k >= 0; k--) {
      Node n = forward.get(k);
      if (n.outputs().stream().noneMatch(o -> relevant.contains(o) && varying.contains(o))) {
        continue;
      }
      active.add(n);
      for (int i = 0; i < n.inputs().size(); i++) {
        if (varying.contains(n.in(i)) && GradRules.differentiable(n, i)) {
          relevant.add(n.in(i));
        }
      }
    }
    for (Node n : active) {
      String why =
          CONTROL_FLOW.contains(n.op())
              ? ") is control flow on the gradient path %s; prepare differentiates straight-line"
                  + " graphs only: export the model with its loops unrolled (torch.onnx with"
                  + " static control flow)"
              : rule(n, fused) == null
                  ? ") is on the gradient path %s, and prepare has no gradient rule for "
                      + n.op()
                      + ". Ops with rules: "
                      + new java.util.TreeSet<>(GradRules.ops())
                  : null;
      if (why != null) {
        throw new BuildException(
            g.source()
                + ": node "
                + n.name()
                + " ("
                + n.op()
                + String.format(why, path(n, producer, varying, wrt)));
      }
    }
    GradContext c = new GradContext(g, shapes);
    Map<String, List<String>> contrib = new HashMap<>();
    // 1, computed from the loss (x^0 = 1 for every x, NaN and infinities included): no gradient
    // node can run before the loss, so ONNX Runtime cannot start the loss's own gradient (a causal
    // LM's vocabulary-sized zeros) while the forward's last nodes are still to run
    String seed = g.fresh(SEED);
    g.add(
        new Node(
            "Pow",
            "",
            seed,
            List.of(loss, c.e().scalar(0.0, shapes.elemType(loss))),
            List.of(seed),
            Map.of()));
    contrib.computeIfAbsent(loss, k -> new ArrayList<>()).add(seed);
    for (Node n : active) {
      List<String> outGrads = new ArrayList<>();
      boolean any = false;
      for (String o : n.outputs()) {
        String s = sum(c, contrib.remove(o));
        outGrads.add(s);
        any |= s != null;
      }
      if (!any) {
        continue;
      }
      boolean[] needs = new boolean[n.inputs().size()];
      for (int i = 0; i < needs.length; i++) {
        needs[i] =
            relevant.contains(n.in(i))
                && varying.contains(n.in(i))
                && GradRules.differentiable(n, i);
      }
      List<String> in = rule(n, fused).grads(n, outGrads, c.at(n, needs));
      for (int i = 0; i < needs.length && i < in.size(); i++) {
        if (needs[i] && in.get(i) != null) {
          contrib.computeIfAbsent(n.in(i), k -> new ArrayList<>()).add(in.get(i));
        }
      }
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (String w : wrt) {
      String s = sum(c, contrib.get(w));
      if (s == null) {
        throw new BuildException(g.source() + ": " + w + " does not reach the loss");
      }
      out.put(w, s);
    }
    return out;
  }

  /**
   * Lists every node that reads a gradient after every node that does not (a stable partition, so
   * still a topological order), in a graph that {@link #build} differentiated. ONNX Runtime's
   * default execution order is a depth-first walk back from the outputs that enters a node's
   * producers in descending node index, that is file position: where a backward node joins a
   * gradient with a value computed from forward values alone (the GELU derivative, a transposed
   * key), the value listed later runs first. Listed after the forward-only part, the gradient's
   * side runs first and the forward-only part runs in the backward, next to its use, instead of in
   * the forward, where its output would stay alive until the backward reaches its layer. Shape
   * arithmetic (a Shape or Size, and what computes integers from such values alone) stays with the
   * gradient nodes: it should run in the forward, since run late its Shape would keep a forward
   * tensor alive. A tensor made from a shape alone (ConstantOfShape's zeros) is not arithmetic.
   */
  public static void listGradientNodesLast(Graph g) {
    Shapes types = Shapes.infer(g);
    Set<String> gradients = new HashSet<>();
    Set<String> shapes = new HashSet<>();
    Set<Node> shapeArithmetic = new HashSet<>();
    Set<Node> after = new HashSet<>();
    for (Node n : g.nodes()) {
      List<String> reads = new ArrayList<>(n.inputs());
      reads.addAll(n.subgraphReads());
      if (reads.stream().anyMatch(gradients::contains) || isSeed(n)) {
        gradients.addAll(n.outputs());
        after.add(n);
      } else if (n.op().equals("Shape")
          || n.op().equals("Size")
          || (n.outputs().stream().allMatch(o -> isInteger(types.elemType(o)))
              && reads.stream()
                  .allMatch(
                      r -> r.isEmpty() || shapes.contains(r) || g.initializers().containsKey(r)))) {
        shapes.addAll(n.outputs());
        shapeArithmetic.add(n);
      }
    }
    // shape arithmetic joins the gradient nodes where only they read it (the order stays valid);
    // readers include If/Loop bodies' outer reads, which Graph.consumers() leaves out
    Map<String, List<Node>> readers = new HashMap<>();
    for (Node n : g.nodes()) {
      n.inputs().forEach(i -> readers.computeIfAbsent(i, k -> new ArrayList<>()).add(n));
      n.subgraphReads().forEach(i -> readers.computeIfAbsent(i, k -> new ArrayList<>()).add(n));
    }
    for (int k = g.nodes().size() - 1; k >= 0; k--) {
      Node n = g.nodes().get(k);
      if (shapeArithmetic.contains(n)
          && n.outputs().stream()
              .allMatch(
                  o ->
                      !g.isOutput(o)
                          && readers.getOrDefault(o, List.of()).stream()
                              .allMatch(after::contains))) {
        after.add(n);
      }
    }
    List<Node> order = new ArrayList<>();
    g.nodes().stream().filter(n -> !after.contains(n)).forEach(order::add);
    g.nodes().stream().filter(after::contains).forEach(order::add);
    g.nodes().clear();
    g.nodes().addAll(order);
  }

  /** Whether n computes the gradient's seed, the 1 every gradient value descends from. */
  static boolean isSeed(Node n) {
    return n.rawName().startsWith(SEED);
  }

  /** A known integer or boolean type (0, a type shape inference does not know, is not). */
  private static boolean isInteger(int type) {
    return type != 0 && !Tensors.isFloat(type);
  }

  /** The gradient rule of {@code n}: by op type, or the kernel library's for its own ops. */
  private static GradRule rule(Node n, boolean fused) {
    if (n.domain().equals(FusedKernels.DOMAIN)) {
      return FusedRules.ofLibraryOp(n.op());
    }
    return fused ? FusedRules.get(n.op()) : GradRules.get(n.op());
  }

  private static String sum(GradContext c, List<String> parts) {
    if (parts == null || parts.isEmpty()) {
      return null;
    }
    return parts.size() == 1 ? parts.get(0) : c.e().op("Sum", parts);
  }

  /** One chain of ops from a differentiated input to n, for error messages. */
  private static String path(
      Node n, Map<String, Node> producer, Set<String> varying, List<String> wrt) {
    List<String> ops = new ArrayList<>();
    Node at = n;
    String start = null;
    for (int guard = 0; at != null && guard < 10_000; guard++) {
      ops.add(0, at.op());
      Node next = null;
      for (String i : at.inputs()) {
        if (wrt.contains(i)) {
          start = i;
          next = null;
          break;
        }
        if (varying.contains(i) && producer.containsKey(i) && next == null) {
          next = producer.get(i);
        }
      }
      if (start != null) {
        break;
      }
      at = next;
    }
    String chain =
        ops.size() <= 8
            ? String.join(" -> ", ops)
            : String.join(" -> ", ops.subList(0, 3))
                + " -> ... -> "
                + String.join(" -> ", ops.subList(ops.size() - 3, ops.size()));
    return "(from " + (start == null ? "a trainable input" : start) + ": " + chain + ")";
  }
}
