package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Appends new ai.onnx nodes to a graph under fresh names that start with a prefix, and makes
 * constants (initializers, each value made once).
 */
public final class Emitter {
  private final Graph g;
  private final String prefix;
  private final Map<String, String> constants = new HashMap<>();

  /**
   * @param g the graph to append to
   * @param prefix the stem of new value names (e.g. {@code grad}, {@code lora})
   */
  public Emitter(Graph g, String prefix) {
    this.g = g;
    this.prefix = prefix;
  }

  /**
   * @return the graph nodes are appended to
   */
  public Graph graph() {
    return g;
  }

  /**
   * @param type op type
   * @param inputs input values ("" for an omitted optional input)
   * @param attrs attributes
   * @return the node's single output
   */
  public String op(String type, List<String> inputs, AttributeProto... attrs) {
    return ops(type, inputs, 1, attrs).get(0);
  }

  /**
   * @param type op type
   * @param inputs input values
   * @return the node's single output
   */
  public String op(String type, String... inputs) {
    return op(type, Arrays.asList(inputs));
  }

  /**
   * @param type op type
   * @param inputs input values
   * @param outputs how many outputs
   * @param attrs attributes
   * @return the outputs
   */
  public List<String> ops(String type, List<String> inputs, int outputs, AttributeProto... attrs) {
    return opsIn("", type, inputs, outputs, attrs);
  }

  /**
   * @param domain the op's domain ("" for ai.onnx)
   * @param type op type
   * @param inputs input values
   * @param outputs how many outputs
   * @param attrs attributes
   * @return the outputs
   */
  public List<String> opsIn(
      String domain, String type, List<String> inputs, int outputs, AttributeProto... attrs) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < outputs; i++) {
      out.add(g.fresh(prefix + "/" + type));
    }
    Map<String, AttributeProto> a = new LinkedHashMap<>();
    for (AttributeProto x : attrs) {
      a.put(x.getName(), x);
    }
    g.add(new Node(type, domain, "", inputs, out, a));
    return out;
  }

  /**
   * @param v the value
   * @param elemType FLOAT or DOUBLE (ONNX numbering)
   * @return a 0-d constant of that type
   */
  public String scalar(double v, int elemType) {
    String key = "s" + elemType + ":" + Double.doubleToLongBits(v);
    return constants.computeIfAbsent(
        key,
        k -> {
          String name = g.fresh(prefix + "/const");
          g.addInitializer(name, Tensors.scalar(name, elemType, v));
          return name;
        });
  }

  /**
   * @param v values
   * @return a 1-d int64 constant
   */
  public String ints(long... v) {
    String key = "i" + Arrays.toString(v);
    return constants.computeIfAbsent(
        key,
        k -> {
          String name = g.fresh(prefix + "/ints");
          g.addInitializer(name, Tensors.int64s(name, new long[] {v.length}, v));
          return name;
        });
  }

  /**
   * @param v value
   * @return a 0-d int64 constant
   */
  public String int64(long v) {
    String key = "i0:" + v;
    return constants.computeIfAbsent(
        key,
        k -> {
          String name = g.fresh(prefix + "/int");
          g.addInitializer(name, Tensors.scalar(name, DataType.INT64_VALUE, v));
          return name;
        });
  }

  /**
   * @param a left
   * @param b right
   * @return a + b
   */
  public String add(String a, String b) {
    return op("Add", a, b);
  }

  /**
   * @param a left
   * @param b right
   * @return a - b
   */
  public String sub(String a, String b) {
    return op("Sub", a, b);
  }

  /**
   * @param a left
   * @param b right
   * @return a * b
   */
  public String mul(String a, String b) {
    return op("Mul", a, b);
  }

  /**
   * @param a left
   * @param b right
   * @return a / b
   */
  public String div(String a, String b) {
    return op("Div", a, b);
  }

  /**
   * @param a value
   * @return -a
   */
  public String neg(String a) {
    return op("Neg", a);
  }

  /**
   * @param x a tensor
   * @param axes axes to sum over (a 1-d int64 value)
   * @param keep keep the reduced dims
   * @return the sum
   */
  public String reduceSum(String x, String axes, boolean keep) {
    return op("ReduceSum", List.of(x, axes), Attr.i("keepdims", keep ? 1 : 0));
  }

  /**
   * @param x a tensor
   * @param perm the permutation
   * @return Transpose(x, perm)
   */
  public String transpose(String x, long... perm) {
    return op("Transpose", List.of(x), Attr.ints("perm", perm));
  }

  /**
   * @param x a tensor
   * @param shape the new shape (an int64 value)
   * @return Reshape(x, shape)
   */
  public String reshape(String x, String shape) {
    return op("Reshape", x, shape);
  }
}
