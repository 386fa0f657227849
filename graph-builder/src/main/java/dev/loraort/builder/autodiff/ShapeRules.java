package dev.loraort.builder.autodiff;

import static java.util.Arrays.asList;

import dev.loraort.builder.BuildException;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of ops that move data without arithmetic: views (Reshape, Flatten, Squeeze,
 * Unsqueeze), Transpose, Expand, Concat/Split, Slice (as one zero Pad, not a scatter: ScatterND
 * runs one thread per index on the CUDA EP) and gathers.
 */
final class ShapeRules {
  private ShapeRules() {}

  static void register(Map<String, GradRule> r) {
    GradRule view = (n, g, c) -> asList(c.e().reshape(g.get(0), c.shapeOf(n.in(0))));
    r.put("Reshape", view);
    r.put("Flatten", view);
    r.put("Squeeze", view);
    r.put("Unsqueeze", view);
    r.put(
        "Transpose",
        (n, g, c) -> {
          long[] p = Shapes.perm(n, c.rank(n.in(0)));
          long[] inv = new long[p.length];
          for (int i = 0; i < p.length; i++) {
            inv[(int) p[i]] = i;
          }
          return asList(c.e().transpose(g.get(0), inv));
        });
    r.put("Expand", (n, g, c) -> asList(c.unbroadcast(g.get(0), n.out(0), n.in(0))));
    r.put("Concat", ShapeRules::concat);
    r.put("Split", ShapeRules::split);
    r.put("Slice", ShapeRules::slice);
    r.put("Gather", ShapeRules::gather);
    r.put(
        "GatherND",
        (n, g, c) -> {
          if (n.i("batch_dims", 0) != 0) {
            throw new BuildException(
                "node "
                    + n.name()
                    + ": GatherND with batch_dims on the gradient path is not supported");
          }
          // a few picked rows (CLIP's end-of-text pooling): scatter-add them back into zeros
          return asList(
              c.e()
                  .op(
                      "ScatterND",
                      List.of(c.zerosLike(n.in(0)), n.in(1), g.get(0)),
                      Attr.s("reduction", "add")));
        });
    r.put(
        "GatherElements",
        (n, g, c) ->
            asList(
                c.e()
                    .op(
                        "ScatterElements",
                        List.of(c.zerosLike(n.in(0)), n.in(1), g.get(0)),
                        Attr.i("axis", n.i("axis", 0)),
                        Attr.s("reduction", "add"))));
  }

  /** The size of {@code v} along {@code axis}, as a 1-element int64 value. */
  private static String sizeAlong(GradContext c, String v, int axis) {
    Dim d = c.type(v).dim(axis);
    if (d.known()) {
      return c.e().ints(d.value());
    }
    return c.e().op("Slice", c.shapeOf(v), c.e().ints(axis), c.e().ints(axis + 1), c.e().ints(0));
  }

  private static List<String> concat(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    int k = n.inputs().size();
    int axis = (int) Shapes.normAxis(n.i("axis", 0), c.rank(n.out(0)));
    List<String> sizes = new ArrayList<>();
    boolean fixed = true;
    for (String in : n.inputs()) {
      sizes.add(sizeAlong(c, in, axis));
      fixed &= c.type(in).dim(axis).known();
    }
    String split;
    if (fixed) {
      long[] v = new long[k];
      for (int i = 0; i < k; i++) {
        v[i] = c.type(n.in(i)).dim(axis).value();
      }
      split = e.ints(v);
    } else {
      split = e.op("Concat", sizes, Attr.i("axis", 0));
    }
    List<String> parts = e.ops("Split", List.of(g.get(0), split), k, Attr.i("axis", axis));
    List<String> out = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      out.add(c.needs(i) ? parts.get(i) : null);
    }
    return out;
  }

  private static List<String> split(Node n, List<String> g, GradContext c) {
    int axis = (int) Shapes.normAxis(n.i("axis", 0), c.rank(n.in(0)));
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < n.outputs().size(); i++) {
      parts.add(g.get(i) != null ? g.get(i) : c.zerosLike(n.out(i)));
    }
    return asList(c.e().op("Concat", parts, Attr.i("axis", axis)));
  }

  /** Slice with steps of 1: the gradient is g padded with zeros back to the input's extent. */
  private static List<String> slice(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String x = n.in(0);
    int r = c.rank(x);
    long[] starts = c.constants(n.in(1));
    long[] ends = c.constants(n.in(2));
    long[] axes = n.hasIn(3) ? c.constants(n.in(3)) : null;
    long[] steps = n.hasIn(4) ? c.constants(n.in(4)) : null;
    if (starts == null
        || ends == null
        || (n.hasIn(3) && axes == null)
        || (n.hasIn(4) && steps == null)) {
      throw new BuildException(
          "node "
              + n.name()
              + ": Slice on the gradient path needs constant starts, ends, axes and steps");
    }
    List<String> before = new ArrayList<>();
    List<String> after = new ArrayList<>();
    long[] padAxes = new long[starts.length];
    boolean fixed = true;
    long[] fixedPads = new long[2 * starts.length];
    for (int k = 0; k < starts.length; k++) {
      int a = (int) Shapes.normAxis(axes == null ? k : axes[k], r);
      padAxes[k] = a;
      if (steps != null && steps[k] != 1) {
        throw new BuildException(
            "node "
                + n.name()
                + ": Slice with step "
                + steps[k]
                + " on the gradient path is not supported");
      }
      Dim dim = c.type(x).dim(a);
      if (dim.known()) {
        long[] se = Shapes.sliceRange(starts[k], ends[k], 1, dim.value());
        fixedPads[k] = se[0];
        fixedPads[k + starts.length] = dim.value() - Math.max(se[0], se[1]);
        before.add(e.ints(fixedPads[k]));
        after.add(e.ints(fixedPads[k + starts.length]));
        continue;
      }
      fixed = false;
      // clamp start and end to [0, dim] at run time, as Slice does
      String d = sizeAlong(c, x, a);
      String s = clamp(c, starts[k], d);
      String t = clamp(c, ends[k], d);
      before.add(s);
      after.add(e.sub(d, e.op("Max", s, t)));
    }
    String pads;
    if (fixed) {
      pads = e.ints(fixedPads);
    } else {
      List<String> all = new ArrayList<>(before);
      all.addAll(after);
      pads = e.op("Concat", all, Attr.i("axis", 0));
    }
    return asList(e.op("Pad", g.get(0), pads, c.scalar(0, x), e.ints(padAxes)));
  }

  /** ONNX Slice's clamping of a constant bound against a runtime dim (1-element int64 values). */
  private static String clamp(GradContext c, long bound, String dim) {
    Emitter e = c.e();
    if (bound >= 0) {
      return bound >= Integer.MAX_VALUE ? dim : e.op("Min", e.ints(bound), dim);
    }
    return e.op("Max", e.add(dim, e.ints(bound)), e.ints(0));
  }

  private static List<String> gather(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String x = n.in(0);
    String idx = n.in(1);
    int r = c.rank(x);
    int a = (int) Shapes.normAxis(n.i("axis", 0), r);
    long[] k = c.constants(idx);
    int q = c.rank(idx);
    if (k != null && q == 0) {
      // x.select(a, k): unsqueeze, then pad with zeros around position k
      String u = e.op("Unsqueeze", g.get(0), e.ints(a));
      Dim dim = c.type(x).dim(a);
      String pads;
      if (dim.known()) {
        long pos = k[0] < 0 ? k[0] + dim.value() : k[0];
        pads = e.ints(pos, dim.value() - pos - 1);
      } else if (k[0] >= 0) {
        String d = sizeAlong(c, x, a);
        pads = e.op("Concat", List.of(e.ints(k[0]), e.sub(d, e.ints(k[0] + 1))), Attr.i("axis", 0));
      } else {
        String d = sizeAlong(c, x, a);
        pads =
            e.op("Concat", List.of(e.add(d, e.ints(k[0])), e.ints(-k[0] - 1)), Attr.i("axis", 0));
      }
      return asList(e.op("Pad", u, pads, c.scalar(0, x), e.ints(a)));
    }
    // general indices: flatten them to one axis, then scatter-add into zeros
    String gi = g.get(0);
    String flat = idx;
    if (q != 1) {
      flat = e.reshape(idx, e.ints(-1));
      List<String> parts = new ArrayList<>();
      if (a > 0) {
        parts.add(e.op("Slice", c.shapeOf(x), e.ints(0), e.ints(a), e.ints(0)));
      }
      parts.add(e.ints(-1));
      if (a + 1 < r) {
        parts.add(e.op("Slice", c.shapeOf(x), e.ints(a + 1), e.ints(r), e.ints(0)));
      }
      gi = e.reshape(gi, e.op("Concat", parts, Attr.i("axis", 0)));
    }
    long[] shape = new long[r];
    for (int i = 0; i < r; i++) {
      shape[i] = i == a ? -1 : 1;
    }
    String idxFull = e.op("Expand", e.reshape(flat, e.ints(shape)), e.op("Shape", gi));
    return asList(
        e.op(
            "ScatterElements",
            List.of(c.zerosLike(x), idxFull, gi),
            Attr.i("axis", a),
            Attr.s("reduction", "add")));
  }
}
