package dev.loraort.builder.autodiff;

import static java.util.Arrays.asList;

import dev.loraort.builder.BuildException;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of MatMul and Gemm. A 2-D right operand (a weight, or a LoRA factor) is never
 * transposed into a copy: its gradients go through Gemm's transA/transB on the 2-D views of the
 * activations, so ONNX Runtime does not fold a transposed copy of a frozen weight into memory.
 */
final class LinearRules {
  private LinearRules() {}

  static void register(Map<String, GradRule> r) {
    r.put("MatMul", LinearRules::matmul);
    r.put("Gemm", LinearRules::gemm);
  }

  private static List<String> matmul(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String a = n.in(0);
    String b = n.in(1);
    String y = n.out(0);
    int ra = c.rank(a);
    int rb = c.rank(b);
    if (ra < 2 || rb < 2) {
      throw new BuildException(
          "node "
              + n.name()
              + ": MatMul of a vector (ranks "
              + ra
              + ", "
              + rb
              + ") on the gradient path");
    }
    if (rb == 2) {
      // y[..., n, m] = a[..., n, k] b[k, m]: view a and g as 2-D rows
      String g2 = ra == 2 ? g.get(0) : e.reshape(g.get(0), lastDim(c, b, 1));
      String ga = null;
      if (c.needs(0)) {
        String ga2 = e.op("Gemm", List.of(g2, b), Attr.i("transB", 1));
        ga = ra == 2 ? ga2 : e.reshape(ga2, c.shapeOf(a));
      }
      String gb = null;
      if (c.needs(1)) {
        String a2 = ra == 2 ? a : e.reshape(a, lastDim(c, b, 0));
        gb = e.op("Gemm", List.of(a2, g2), Attr.i("transA", 1));
      }
      return asList(ga, gb);
    }
    List<Dim> yd = c.type(y).dims();
    String ga = null;
    if (c.needs(0)) {
      String full = e.op("MatMul", g.get(0), e.transpose(b, swapLast(rb)));
      List<Dim> d = yd == null ? null : new ArrayList<>(yd.subList(0, yd.size() - 2));
      if (d != null) {
        d.add(c.type(a).dim(-2));
        d.add(c.type(a).dim(-1));
      }
      ga = c.unbroadcast(full, d, a);
    }
    String gb = null;
    if (c.needs(1)) {
      String full = e.op("MatMul", e.transpose(a, swapLast(ra)), g.get(0));
      List<Dim> d = yd == null ? null : new ArrayList<>(yd.subList(0, yd.size() - 2));
      if (d != null) {
        d.add(c.type(b).dim(-2));
        d.add(c.type(b).dim(-1));
      }
      gb = c.unbroadcast(full, d, b);
    }
    return asList(ga, gb);
  }

  /** {@code [-1, dim]} with the size of b's axis {@code axis}: the 2-D view of a row tensor. */
  private static String lastDim(GradContext c, String b, int axis) {
    Dim d = c.type(b).dim(axis);
    Emitter e = c.e();
    if (d.known()) {
      return e.ints(-1, d.value());
    }
    String size = e.op("Slice", c.shapeOf(b), e.ints(axis), e.ints(axis + 1), e.ints(0));
    return e.op("Concat", List.of(e.ints(-1), size), Attr.i("axis", 0));
  }

  private static long[] swapLast(int r) {
    long[] p = new long[r];
    for (int i = 0; i < r; i++) {
      p[i] = i;
    }
    p[r - 2] = r - 1;
    p[r - 1] = r - 2;
    return p;
  }

  /**
   * Y = alpha A' B' + beta C with A' = A or A^T, B' = B or B^T: dA' = alpha G B'^T, dB' = alpha
   * A'^T G, each written as one Gemm with the right transposition flags.
   */
  private static List<String> gemm(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String a = n.in(0);
    String b = n.in(1);
    String gy = g.get(0);
    float alpha = n.f("alpha", 1f);
    float beta = n.f("beta", 1f);
    boolean ta = n.i("transA", 0) != 0;
    boolean tb = n.i("transB", 0) != 0;
    String ga = null;
    if (c.needs(0)) {
      ga =
          ta
              ? gemm(e, b, gy, tb, true, alpha) // A = (alpha B' G^T)
              : gemm(e, gy, b, false, !tb, alpha); // A = alpha G B'^T
    }
    String gb = null;
    if (c.needs(1)) {
      gb =
          tb
              ? gemm(e, gy, a, true, ta, alpha) // B = alpha G^T A'
              : gemm(e, a, gy, !ta, false, alpha); // B = alpha A'^T G
    }
    String gc = null;
    if (n.hasIn(2) && c.needs(2)) {
      String scaled = beta == 1f ? gy : e.mul(gy, c.scalar(beta, n.out(0)));
      gc = c.unbroadcast(scaled, n.out(0), n.in(2));
    }
    return asList(ga, gb, gc);
  }

  private static String gemm(Emitter e, String x, String y, boolean tx, boolean ty, float alpha) {
    List<dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto> attrs = new ArrayList<>();
    if (tx) {
      attrs.add(Attr.i("transA", 1));
    }
    if (ty) {
      attrs.add(Attr.i("transB", 1));
    }
    if (alpha != 1f) {
      attrs.add(Attr.f("alpha", alpha));
    }
    return e.op(
        "Gemm",
        List.of(x, y),
        attrs.toArray(new dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto[0]));
  }
}
