package dev.loraort.builder.autodiff;

import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Attention's probabilities recomputed in the backward instead of kept from the forward, as
 * PyTorch's fused attention does. A differentiated graph keeps every layer's softmax output P
 * ([batch, heads, queries, keys]) from the forward until the backward reaches its layer, for the
 * softmax's own gradient and for dV = P^T dO: on RoBERTa-large at 32 x 128 that is 768 MiB, the
 * difference to PyTorch's peak memory. Here the backward recomputes P from the scores' product (Q
 * K^T) and the steps between it and the softmax (scale, masks), whose inputs the product's own
 * gradient keeps anyway, so only one layer's P is alive at a time; the cost is one more score
 * product and softmax per layer.
 *
 * <p>The recomputation reads its query operand times the gradient's seed (a 1 computed from the
 * loss, exact), for two reasons: ONNX Runtime's common-subexpression elimination would otherwise
 * merge the copy into the forward's nodes, and a node that reads a gradient value runs in the
 * backward ({@link Backward#listGradientNodesLast}). The copies are listed first among the gradient
 * nodes, so ONNX Runtime's order (a depth-first walk back from the outputs that enters a node's
 * producers in descending position) reaches each copy after the gradient it is joined with: the
 * copy runs where its layer's backward runs.
 */
public final class AttentionRecompute {
  /** Steps between the score product and the softmax that the copy repeats. */
  private static final Set<String> SCORE_STEPS =
      Set.of("Add", "Sub", "Mul", "Div", "Where", "Cast");

  /** Data movement the copy repeats between a kept value and the score product's operands. */
  private static final Set<String> MOVES =
      Set.of("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity");

  private AttentionRecompute() {}

  /**
   * Rewrites a graph that {@link Backward#build} differentiated.
   *
   * @param g the graph, forward then backward nodes, as {@link Backward#build} left it
   * @return how many softmaxes the backward now recomputes
   */
  public static int apply(Graph g) {
    int seedAt = -1;
    for (int k = 0; k < g.nodes().size() && seedAt < 0; k++) {
      if (Backward.isSeed(g.nodes().get(k))) {
        seedAt = k;
      }
    }
    if (seedAt < 0) {
      return 0;
    }
    String seed = g.nodes().get(seedAt).out(0);
    Set<Node> backward = new HashSet<>(g.nodes().subList(seedAt + 1, g.nodes().size()));
    Map<String, Node> producer = g.producers();
    Map<String, List<Node>> consumers = g.consumers();
    Shapes shapes = Shapes.infer(g);
    List<Node> copies = new ArrayList<>();
    int recomputed = 0;
    for (Node softmax : g.nodes().subList(0, seedAt)) {
      if (!softmax.op().equals("Softmax") || !softmax.domain().isEmpty()) {
        continue;
      }
      List<Node> readers =
          consumers.getOrDefault(softmax.out(0), List.of()).stream()
              .filter(backward::contains)
              .toList();
      List<Node> chain = scoreChain(softmax, producer, consumers, shapes);
      if (readers.isEmpty() || chain == null) {
        continue;
      }
      // each operand from before its data movement: the value its projection wrote, which the
      // backward keeps (ONNX Runtime folds the backward's transposes of Q and K into the products
      // that read them, so those read the projection's output)
      Node product = chain.get(0);
      List<String> roots = new ArrayList<>();
      List<Node> steps = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        String root = product.in(i);
        int at = steps.size();
        while (producer.get(root) != null
            && MOVES.contains(producer.get(root).op())
            && producer.get(root).domain().isEmpty()) {
          steps.add(at, producer.get(root));
          root = producer.get(root).in(0);
        }
        roots.add(root);
      }
      if (roots.stream().anyMatch(r -> g.initializers().containsKey(r) || g.isInput(r))) {
        continue; // a product with a weight or an input (a vocabulary's logits): not attention
      }
      Map<String, String> renamed = new HashMap<>();
      for (String root : roots) {
        if (!renamed.containsKey(root)) {
          String times = g.fresh(root + "/recomputed");
          copies.add(new Node("Mul", "", times, List.of(root, seed), List.of(times), Map.of()));
          renamed.put(root, times);
        }
      }
      steps.addAll(chain);
      for (Node n : steps) {
        List<String> in = new ArrayList<>(n.inputs());
        in.replaceAll(v -> renamed.getOrDefault(v, v));
        List<String> out = new ArrayList<>();
        for (String o : n.outputs()) {
          String copy = g.fresh(o + "/recomputed");
          renamed.put(o, copy);
          out.add(copy);
        }
        copies.add(
            new Node(n.op(), n.domain(), g.fresh(n.name() + "/recomputed"), in, out, n.attrs()));
      }
      for (Node r : readers) {
        for (int i = 0; i < r.inputs().size(); i++) {
          if (r.in(i).equals(softmax.out(0))) {
            r.setInput(i, renamed.get(softmax.out(0)));
          }
        }
      }
      recomputed++;
    }
    g.nodes().addAll(seedAt + 1, copies);
    return recomputed;
  }

  /**
   * The nodes from attention's score product to its softmax, in forward order: a MatMul, then
   * elementwise steps on the score-shaped value (each read by the next step alone), then the
   * softmax; null where the softmax is not of that form.
   */
  private static List<Node> scoreChain(
      Node softmax, Map<String, Node> producer, Map<String, List<Node>> consumers, Shapes shapes) {
    long axis = softmax.i("axis", -1);
    ValueType scores = shapes.type(softmax.out(0));
    if (scores.dims() == null
        || scores.rank() < 2
        || Shapes.normAxis(axis, scores.rank()) != scores.rank() - 1) {
      return null;
    }
    List<Node> chain = new ArrayList<>(List.of(softmax));
    String v = softmax.in(0);
    for (int guard = 0; guard < 16; guard++) {
      Node p = producer.get(v);
      if (p == null
          || !p.domain().isEmpty()
          || consumers.getOrDefault(v, List.of()).size() != 1
          || !scores.dims().equals(shapes.type(v).dims())) {
        return null;
      }
      chain.add(0, p);
      if (p.op().equals("MatMul")) {
        return chain;
      }
      if (!SCORE_STEPS.contains(p.op())) {
        return null;
      }
      String next = null;
      for (String i : p.inputs()) {
        if (producer.containsKey(i) && scores.dims().equals(shapes.type(i).dims())) {
          if (next != null) {
            return null; // two score-shaped operands: not a step on one score tensor
          }
          next = i;
        }
      }
      if (next == null) {
        return null;
      }
      v = next;
    }
    return null;
  }
}
