package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.NodeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One operator call: op type, domain, input and output value names (an empty name is an omitted
 * optional input), attributes. Inputs may be rewired; everything else is fixed at construction.
 */
public final class Node {
  private final String op;
  private final String domain;
  private final String name;
  private final List<String> inputs;
  private final List<String> outputs;
  private final Map<String, AttributeProto> attrs;
  private final Map<String, String> meta;

  /**
   * @param op op type
   * @param domain operator domain ("" for ai.onnx)
   * @param name node name (for messages)
   * @param inputs input value names
   * @param outputs output value names
   * @param attrs attributes by name
   */
  public Node(
      String op,
      String domain,
      String name,
      List<String> inputs,
      List<String> outputs,
      Map<String, AttributeProto> attrs) {
    this.op = op;
    this.domain = domain == null || domain.equals("ai.onnx") ? "" : domain;
    this.name = name == null ? "" : name;
    this.inputs = new ArrayList<>(inputs);
    this.outputs = List.copyOf(outputs);
    this.attrs = new LinkedHashMap<>(attrs);
    this.meta = Map.of();
  }

  private Node(Node n, Map<String, String> meta) {
    this.op = n.op;
    this.domain = n.domain;
    this.name = n.name;
    this.inputs = new ArrayList<>(n.inputs);
    this.outputs = n.outputs;
    this.attrs = n.attrs;
    this.meta = Map.copyOf(meta);
  }

  /**
   * @param p a node message
   * @return the node
   */
  public static Node of(NodeProto p) {
    Map<String, AttributeProto> a = new LinkedHashMap<>();
    p.getAttributeList().forEach(x -> a.put(x.getName(), x));
    Node n =
        new Node(p.getOpType(), p.getDomain(), p.getName(), p.getInputList(), p.getOutputList(), a);
    Map<String, String> meta = new LinkedHashMap<>();
    p.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
    return meta.isEmpty() ? n : new Node(n, meta);
  }

  /**
   * @return a copy whose inputs can be rewired independently of this node's
   */
  public Node copy() {
    return new Node(this, meta);
  }

  /**
   * @return the exporter's metadata_props (torch.onnx's {@code pkg.torch.onnx.name_scopes} and
   *     class hierarchy); read, never written back
   */
  public Map<String, String> meta() {
    return meta;
  }

  /**
   * @return the node message
   */
  public NodeProto toProto() {
    NodeProto.Builder b =
        NodeProto.newBuilder()
            .setOpType(op)
            .addAllInput(inputs)
            .addAllOutput(outputs)
            .addAllAttribute(attrs.values());
    if (!domain.isEmpty()) {
      b.setDomain(domain);
    }
    if (!name.isEmpty()) {
      b.setName(name);
    }
    return b.build();
  }

  /**
   * @return op type
   */
  public String op() {
    return op;
  }

  /**
   * @return domain, "" for ai.onnx
   */
  public String domain() {
    return domain;
  }

  /**
   * @return the node's name, or a description when it has none
   */
  public String name() {
    return name.isEmpty() ? op + " -> " + outputs : name;
  }

  /**
   * @return the node's name as stored ("" when it has none)
   */
  public String rawName() {
    return name;
  }

  /**
   * Values a subgraph attribute (If, Loop, Scan bodies) reads from the enclosing graph: every name
   * its nodes read (a superset: names the body defines itself are included).
   *
   * @return those names, empty for nodes without subgraphs
   */
  public java.util.Set<String> subgraphReads() {
    java.util.Set<String> r = new java.util.HashSet<>();
    for (AttributeProto a : attrs.values()) {
      List<dev.loraort.artifacts.onnx.proto.Onnx.GraphProto> gs =
          new ArrayList<>(a.getGraphsList());
      if (a.hasG()) {
        gs.add(a.getG());
      }
      for (dev.loraort.artifacts.onnx.proto.Onnx.GraphProto g : gs) {
        for (NodeProto n : g.getNodeList()) {
          r.addAll(n.getInputList());
          r.addAll(Node.of(n).subgraphReads());
        }
      }
    }
    return r;
  }

  /**
   * @return input value names (live view: rewire with {@link #setInput})
   */
  public List<String> inputs() {
    return java.util.Collections.unmodifiableList(inputs);
  }

  /**
   * @return output value names
   */
  public List<String> outputs() {
    return outputs;
  }

  /**
   * @param i index
   * @return input i, or "" when absent
   */
  public String in(int i) {
    return i < inputs.size() ? inputs.get(i) : "";
  }

  /**
   * @param i index
   * @return true if input i is given
   */
  public boolean hasIn(int i) {
    return !in(i).isEmpty();
  }

  /**
   * @param i index
   * @return output i, or "" when absent
   */
  public String out(int i) {
    return i < outputs.size() ? outputs.get(i) : "";
  }

  /**
   * @param i input index
   * @param value the new value name
   */
  public void setInput(int i, String value) {
    while (inputs.size() <= i) {
      inputs.add("");
    }
    inputs.set(i, value);
  }

  /**
   * @return attributes by name
   */
  public Map<String, AttributeProto> attrs() {
    return java.util.Collections.unmodifiableMap(attrs);
  }

  /**
   * @param key attribute name
   * @return true if set
   */
  public boolean has(String key) {
    return attrs.containsKey(key);
  }

  /**
   * @param key attribute name
   * @param dflt value when absent
   * @return an int attribute
   */
  public long i(String key, long dflt) {
    AttributeProto a = attrs.get(key);
    return a == null ? dflt : a.getI();
  }

  /**
   * @param key attribute name
   * @param dflt value when absent
   * @return a float attribute
   */
  public float f(String key, float dflt) {
    AttributeProto a = attrs.get(key);
    return a == null ? dflt : a.getF();
  }

  /**
   * @param key attribute name
   * @param dflt value when absent
   * @return a string attribute
   */
  public String s(String key, String dflt) {
    AttributeProto a = attrs.get(key);
    return a == null ? dflt : a.getS().toStringUtf8();
  }

  /**
   * @param key attribute name
   * @return an ints attribute, or null when absent
   */
  public long[] ints(String key) {
    AttributeProto a = attrs.get(key);
    return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * @param key attribute name
   * @return a tensor attribute
   * @throws BuildException if absent
   */
  public TensorProto tensor(String key) {
    AttributeProto a = attrs.get(key);
    if (a == null || !a.hasT()) {
      throw new BuildException("node " + name() + ": no tensor attribute " + key);
    }
    return a.getT();
  }

  @Override
  public String toString() {
    return op + "(" + String.join(", ", inputs) + ") -> " + outputs + " [" + name + "]";
  }
}
