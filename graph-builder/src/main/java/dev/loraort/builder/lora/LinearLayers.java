package dev.loraort.builder.lora;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The linear layers of an exported model: every MatMul or Gemm whose right operand is a 2-D weight
 * initializer (directly, or through a Transpose), named by its Hugging Face module path. The name
 * comes from, in order: torch.onnx's {@code pkg.torch.onnx.name_scopes} metadata (dynamo exports),
 * a weight initializer named {@code <module>.weight}, the {@code <module>.bias} initializer its
 * output is added to (TorchScript and Optimum exports store Linear weights transposed under
 * anonymous names), and a TorchScript node name {@code /a/b.0/c/MatMul}.
 */
public final class LinearLayers {
  private static final String NAME_SCOPES = "pkg.torch.onnx.name_scopes";
  private static final String CLASSES = "pkg.torch.onnx.class_hierarchy";

  /**
   * One linear layer.
   *
   * @param node the MatMul or Gemm
   * @param module its module path
   * @param weight the initializer of W0
   * @param layout {@code in_out} (x W) or {@code out_in} (x W^T), as the initializer is stored
   * @param in input features
   * @param out output features
   * @param fanInFanOut true for transformers' Conv1D (GPT-2), as PEFT flags it
   */
  public record Layer(
      Node node,
      String module,
      String weight,
      String layout,
      long in,
      long out,
      boolean fanInFanOut) {
    /**
     * @return the activation the layer reads
     */
    public String input() {
      return node.in(0);
    }

    /**
     * @return the layer's output before any bias Add
     */
    public String output() {
      return node.out(0);
    }
  }

  private LinearLayers() {}

  /**
   * @param g an opset-normalized graph
   * @return its linear layers in node order; names made unique with {@code #2}, {@code #3} where a
   *     module is called more than once
   */
  public static List<Layer> find(Graph g) {
    Map<String, Node> producer = g.producers();
    Map<String, List<Node>> consumers = g.consumers();
    List<Layer> out = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    for (Node n : g.nodes()) {
      boolean gemm = n.op().equals("Gemm");
      if (!(n.op().equals("MatMul") || gemm) || (gemm && n.i("transA", 0) != 0)) {
        continue;
      }
      String w = n.in(1);
      boolean transposed = gemm && n.i("transB", 0) != 0;
      Node p = producer.get(w);
      if (p != null && p.op().equals("Transpose") && g.initializers().containsKey(p.in(0))) {
        long[] perm = p.ints("perm");
        if (perm == null || (perm.length == 2 && perm[0] == 1 && perm[1] == 0)) {
          w = p.in(0);
          transposed = !transposed;
        }
      }
      TensorProto t = g.initializers().get(w);
      if (t == null
          || t.getDimsCount() != 2
          || !dev.loraort.builder.ir.Tensors.isFloat(t.getDataType())) {
        continue;
      }
      long in = transposed ? t.getDims(1) : t.getDims(0);
      long o = transposed ? t.getDims(0) : t.getDims(1);
      String module = name(n, w, consumers, g);
      int k = seen.merge(module, 1, Integer::sum);
      if (k > 1) {
        module = module + "#" + k;
      }
      // Conv1D (GPT-2) holds its weight as [in, out], so an exporter reads the named tensor
      // directly; a Linear's [out, in] weight is read through a transpose (or a folded copy)
      boolean conv1d =
          n.meta().containsKey(CLASSES)
              ? isConv1D(n)
              : !transposed && w.equals(module.replaceFirst("#\\d+$", "") + ".weight");
      out.add(new Layer(n, module, w, transposed ? "out_in" : "in_out", in, o, conv1d));
    }
    return out;
  }

  private static String name(Node n, String weight, Map<String, List<Node>> consumers, Graph g) {
    String scopes = n.meta().get(NAME_SCOPES);
    if (scopes != null) {
      List<String> s = pyList(scopes);
      if (s.size() >= 2 && !s.get(s.size() - 2).isEmpty()) {
        return s.get(s.size() - 2);
      }
    }
    if (weight.endsWith(".weight") && !weight.startsWith("onnx::")) {
      return weight.substring(0, weight.length() - ".weight".length());
    }
    for (Node c : consumers.getOrDefault(n.out(0), List.of())) {
      if (c.op().equals("Add")) {
        for (String i : c.inputs()) {
          if (i.endsWith(".bias") && g.initializers().containsKey(i)) {
            return i.substring(0, i.length() - ".bias".length());
          }
        }
      }
    }
    String nn = n.rawName();
    if (nn.startsWith("/") && nn.lastIndexOf('/') > 0) {
      return nn.substring(1, nn.lastIndexOf('/')).replace('/', '.');
    }
    return weight;
  }

  private static boolean isConv1D(Node n) {
    String classes = n.meta().get(CLASSES);
    if (classes == null) {
      return false;
    }
    List<String> c = pyList(classes);
    return c.size() >= 2 && c.get(c.size() - 2).endsWith(".Conv1D");
  }

  /** Parses torch.onnx's metadata lists, written as Python reprs: {@code ['', 'a', 'a.b']}. */
  static List<String> pyList(String s) {
    List<String> out = new ArrayList<>();
    int i = 0;
    while (i < s.length()) {
      char q = s.charAt(i);
      if (q == '\'' || q == '"') {
        int j = s.indexOf(q, i + 1);
        if (j < 0) {
          break;
        }
        out.add(s.substring(i + 1, j));
        i = j + 1;
      } else {
        i++;
      }
    }
    return out;
  }

  /**
   * @param layers layers
   * @return the layers by module name, in order
   */
  public static Map<String, Layer> byModule(List<Layer> layers) {
    Map<String, Layer> m = new LinkedHashMap<>();
    layers.forEach(l -> m.put(l.module(), l));
    return m;
  }
}
