package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.builder.shape.Shapes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Keeps a weight that is read both as it is and transposed (a language model's embedding tied to
 * its output projection: Gather(W) and MatMul(h, Transpose(W))) in memory once. ONNX Runtime folds
 * Transpose(W) into a second initializer, so the session held both: 890 MiB more than PyTorch on
 * Qwen2-VL-2B (its 151936 x 1536 embedding), 245 MiB on GPT-2 large. Each such MatMul becomes
 * Gemm(h, W, transB = 1) on h viewed as rows, which cuBLAS runs from W as stored. A weight read
 * only through its transpose is left alone: there the folded copy is the only one.
 */
public final class SharedWeights {
  private SharedWeights() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph
   * @param s its shapes
   * @return how many weights are no longer transposed into a copy
   */
  public static int apply(Graph g, Shapes s) {
    Map<String, List<Node>> uses = g.consumers();
    Emitter e = new Emitter(g, "shared");
    int rewritten = 0;
    for (Node t : new ArrayList<>(g.nodes())) {
      TensorProto w = t.op().equals("Transpose") ? g.initializers().get(t.in(0)) : null;
      if (w == null || w.getDimsCount() != 2 || !t.domain().isEmpty()) {
        continue;
      }
      long[] perm = Shapes.perm(t, 2);
      List<Node> readers = uses.getOrDefault(t.out(0), List.of());
      boolean shared = uses.get(t.in(0)).size() > 1;
      boolean allMatMuls =
          !readers.isEmpty()
              && readers.stream()
                  .allMatch(
                      r ->
                          r.op().equals("MatMul")
                              && r.domain().isEmpty()
                              && r.in(1).equals(t.out(0))
                              && !r.in(0).equals(t.out(0))
                              && s.rank(r.in(0)) >= 2);
      boolean isOutput = g.isOutput(t.out(0));
      if (perm[0] != 1 || !shared || !allMatMuls || isOutput) {
        continue;
      }
      for (Node mm : readers) {
        g.nodes().set(g.nodes().indexOf(mm), asGemm(e, mm, t.in(0), w.getDims(1), w.getDims(0), s));
      }
      rewritten++;
    }
    if (rewritten > 0) {
      g.sortTopologically();
      g.removeDeadNodes();
    }
    return rewritten;
  }

  /** MatMul(a, W^T) as Gemm(a viewed as rows, W, transB = 1), its output named as the MatMul's. */
  private static Node asGemm(Emitter e, Node mm, String w, long in, long out, Shapes s) {
    String a = mm.in(0);
    if (s.rank(a) == 2) {
      return new Node(
          "Gemm",
          "",
          mm.name(),
          List.of(a, w),
          mm.outputs(),
          Map.of("transB", Attr.i("transB", 1)));
    }
    String rows = e.op("Gemm", List.of(e.reshape(a, e.ints(-1, in)), w), Attr.i("transB", 1));
    String lead = e.op("Slice", e.op("Shape", a), e.ints(0), e.ints(-1));
    String shape = e.op("Concat", List.of(lead, e.ints(out)), Attr.i("axis", 0));
    return new Node("Reshape", "", mm.name(), List.of(rows, shape), mm.outputs(), Map.of());
  }
}
