package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's main graph, mutable while a training graph is built from it: nodes, initializers (their
 * data inline or aliasing a memory-mapped file, never copied), typed inputs and outputs, and the
 * ai.onnx opset version its nodes follow.
 */
public final class Graph {
  private final String source;
  private final List<Node> nodes;
  private final Map<String, TensorProto> initializers;
  private final List<ValueInfoProto> inputs;
  private final List<ValueInfoProto> outputs;
  private int opset;
  private final Set<String> names = new HashSet<>();
  private int counter;

  /**
   * @param source what the graph came from (a file), for messages
   * @param opset the ai.onnx opset version of its nodes
   * @param nodes nodes in topological order
   * @param initializers constant tensors by name
   * @param inputs graph inputs that are not initializers
   * @param outputs graph outputs
   */
  public Graph(
      String source,
      int opset,
      List<Node> nodes,
      Map<String, TensorProto> initializers,
      List<ValueInfoProto> inputs,
      List<ValueInfoProto> outputs) {
    this.source = source;
    this.opset = opset;
    this.nodes = new ArrayList<>(nodes);
    this.initializers = new LinkedHashMap<>(initializers);
    this.inputs = new ArrayList<>(inputs);
    this.outputs = new ArrayList<>(outputs);
    this.nodes.forEach(this::claim);
    names.addAll(this.initializers.keySet());
    this.inputs.forEach(v -> names.add(v.getName()));
  }

  /**
   * @return an independent copy: same initializer tensors (immutable), copied node list and nodes
   */
  public Graph copy() {
    List<Node> ns = new ArrayList<>();
    for (Node n : nodes) {
      ns.add(n.copy());
    }
    Graph g = new Graph(source, opset, ns, initializers, inputs, outputs);
    g.counter = counter;
    g.names.addAll(names);
    return g;
  }

  /**
   * @return the file (or test) the graph came from
   */
  public String source() {
    return source;
  }

  /**
   * @return the ai.onnx opset version
   */
  public int opset() {
    return opset;
  }

  /**
   * @param v the ai.onnx opset version the nodes now follow
   */
  public void setOpset(int v) {
    opset = v;
  }

  /**
   * @return the nodes (mutable list, in topological order unless the caller broke it)
   */
  public List<Node> nodes() {
    return nodes;
  }

  /**
   * @return initializers by name (mutable)
   */
  public Map<String, TensorProto> initializers() {
    return initializers;
  }

  /**
   * @return graph inputs that are not initializers (mutable)
   */
  public List<ValueInfoProto> inputs() {
    return inputs;
  }

  /**
   * @return graph outputs (mutable)
   */
  public List<ValueInfoProto> outputs() {
    return outputs;
  }

  /**
   * @param hint a readable stem
   * @return a value or node name not used in this graph
   */
  public String fresh(String hint) {
    String n;
    do {
      n = hint + "_" + counter++;
    } while (names.contains(n));
    names.add(n);
    return n;
  }

  /**
   * @param name a name that new values must not take
   */
  public void reserve(String name) {
    names.add(name);
  }

  /**
   * @param n a node to append
   */
  public void add(Node n) {
    nodes.add(n);
    claim(n);
  }

  /**
   * @param name an initializer name (claimed as used)
   * @param t its tensor (its name field is set to {@code name})
   */
  public void addInitializer(String name, TensorProto t) {
    initializers.put(name, t.getName().equals(name) ? t : t.toBuilder().setName(name).build());
    names.add(name);
  }

  private void claim(Node n) {
    names.addAll(n.outputs());
    if (!n.rawName().isEmpty()) {
      names.add(n.rawName());
    }
  }

  /**
   * @return the node producing each value
   */
  public Map<String, Node> producers() {
    Map<String, Node> p = new HashMap<>();
    for (Node n : nodes) {
      for (String o : n.outputs()) {
        if (!o.isEmpty()) {
          p.put(o, n);
        }
      }
    }
    return p;
  }

  /**
   * @return the nodes reading each value, in node order
   */
  public Map<String, List<Node>> consumers() {
    Map<String, List<Node>> c = new HashMap<>();
    for (Node n : nodes) {
      for (String i : n.inputs()) {
        if (!i.isEmpty()) {
          c.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
        }
      }
    }
    return c;
  }

  /**
   * @param name a value name
   * @return true if it is a graph input (not an initializer)
   */
  public boolean isInput(String name) {
    return inputs.stream().anyMatch(v -> v.getName().equals(name));
  }

  /**
   * @param name a value name
   * @return true if it is a graph output
   */
  public boolean isOutput(String name) {
    return outputs.stream().anyMatch(v -> v.getName().equals(name));
  }

  /**
   * @param name a value name
   * @return the graph input's declaration
   * @throws BuildException if there is none
   */
  public ValueInfoProto input(String name) {
    return inputs.stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new BuildException(source + ": no graph input " + name));
  }

  /**
   * Replaces every read of {@code from} (node inputs and graph outputs) by {@code to}, except in
   * the nodes given.
   *
   * @param from the old value
   * @param to the new value
   * @param except nodes whose inputs keep {@code from}
   */
  public void replaceUses(String from, String to, Set<Node> except) {
    for (Node n : nodes) {
      if (except.contains(n)) {
        continue;
      }
      for (int i = 0; i < n.inputs().size(); i++) {
        if (n.in(i).equals(from)) {
          n.setInput(i, to);
        }
      }
    }
    for (int i = 0; i < outputs.size(); i++) {
      if (outputs.get(i).getName().equals(from)) {
        outputs.set(i, outputs.get(i).toBuilder().setName(to).build());
      }
    }
  }

  /**
   * Orders the nodes so that every value is produced before it is read (stable: already ordered
   * nodes keep their order).
   *
   * @throws BuildException if the graph has a cycle or reads a value nothing defines
   */
  public void sortTopologically() {
    Set<String> ready = new HashSet<>(initializers.keySet());
    inputs.forEach(v -> ready.add(v.getName()));
    ready.add("");
    Map<String, List<Node>> waiting = new HashMap<>();
    Map<Node, Integer> missing = new HashMap<>();
    for (Node n : nodes) {
      int m = 0;
      Set<String> reads = new HashSet<>(n.inputs());
      reads.addAll(outerReads(n));
      for (String i : reads) {
        if (!ready.contains(i)) {
          waiting.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
          m++;
        }
      }
      missing.put(n, m);
    }
    // Kahn's algorithm, visiting nodes in their current order
    Map<Node, Integer> order = new HashMap<>();
    for (int k = 0; k < nodes.size(); k++) {
      order.put(nodes.get(k), k);
    }
    java.util.PriorityQueue<Node> pq =
        new java.util.PriorityQueue<>(java.util.Comparator.comparingInt(order::get));
    for (Node n : nodes) {
      if (missing.get(n) == 0) {
        pq.add(n);
      }
    }
    List<Node> sorted = new ArrayList<>();
    while (!pq.isEmpty()) {
      Node n = pq.poll();
      sorted.add(n);
      for (String o : n.outputs()) {
        for (Node w : waiting.getOrDefault(o, List.of())) {
          if (missing.merge(w, -1, Integer::sum) == 0) {
            pq.add(w);
          }
        }
        waiting.remove(o);
      }
    }
    if (sorted.size() != nodes.size()) {
      List<String> undefined = new ArrayList<>(waiting.keySet());
      throw new BuildException(
          source
              + ": the graph reads values that nothing defines, or has a cycle: "
              + undefined.subList(0, Math.min(5, undefined.size())));
    }
    nodes.clear();
    nodes.addAll(sorted);
  }

  /** The names a node's subgraphs read that this graph defines (initializers, inputs, outputs). */
  private Set<String> outerReads(Node n) {
    Set<String> r = n.subgraphReads();
    if (r.isEmpty()) {
      return r;
    }
    Set<String> defined = new HashSet<>(initializers.keySet());
    inputs.forEach(v -> defined.add(v.getName()));
    nodes.forEach(x -> defined.addAll(x.outputs()));
    r.retainAll(defined);
    return r;
  }

  /** Removes nodes whose outputs nothing reads (neither nodes nor graph outputs). */
  public void removeDeadNodes() {
    Set<String> live = new HashSet<>();
    outputs.forEach(v -> live.add(v.getName()));
    List<Node> kept = new ArrayList<>();
    for (int k = nodes.size() - 1; k >= 0; k--) {
      Node n = nodes.get(k);
      if (n.outputs().stream().anyMatch(live::contains)) {
        kept.add(n);
        live.addAll(n.inputs());
        live.addAll(n.subgraphReads());
      }
    }
    java.util.Collections.reverse(kept);
    nodes.clear();
    nodes.addAll(kept);
    initializers.keySet().retainAll(live);
  }
}
