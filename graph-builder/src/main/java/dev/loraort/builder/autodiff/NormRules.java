package dev.loraort.builder.autodiff;

import static java.util.Arrays.asList;

import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.Shapes;
import dev.loraort.builder.shape.ValueType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of reductions and normalizations: ReduceSum/ReduceMean, Softmax and LogSoftmax
 * (from their outputs: (g - sum(g y)) y and g - exp(y) sum(g)), LayerNormalization (from the Mean
 * and InvStdDev the forward node computes anyway).
 */
final class NormRules {
  private NormRules() {}

  static void register(Map<String, GradRule> r) {
    r.put(
        "Softmax",
        (n, g, c) -> {
          Emitter e = c.e();
          String y = n.out(0);
          String axes = e.ints(n.i("axis", -1));
          String dot = e.reduceSum(e.mul(g.get(0), y), axes, true);
          return asList(e.mul(e.sub(g.get(0), dot), y));
        });
    r.put(
        "LogSoftmax",
        (n, g, c) -> {
          Emitter e = c.e();
          String axes = e.ints(n.i("axis", -1));
          String sum = e.reduceSum(g.get(0), axes, true);
          return asList(e.sub(g.get(0), e.mul(e.op("Exp", n.out(0)), sum)));
        });
    r.put("ReduceSum", (n, g, c) -> asList(spread(n, g.get(0), c)));
    r.put(
        "ReduceMean",
        (n, g, c) -> {
          String spread = spread(n, g.get(0), c);
          return asList(c.e().div(spread, count(n, c)));
        });
    r.put(
        "ReduceL2",
        (n, g, c) -> {
          // y = sqrt(sum x^2): dx = x * g / y, and 0 where y = 0 (torch's convention)
          Emitter e = c.e();
          long[] axes = reducedAxes(n, c);
          boolean keep = n.i("keepdims", 1) != 0 || axes.length == 0;
          String gk = keep ? g.get(0) : e.op("Unsqueeze", g.get(0), e.ints(axes));
          String yk = keep ? n.out(0) : e.op("Unsqueeze", n.out(0), e.ints(axes));
          String zero = c.scalar(0, n.out(0));
          String q = e.op("Where", e.op("Equal", yk, zero), zero, e.div(gk, yk));
          return asList(e.mul(n.in(0), q));
        });
    r.put("LayerNormalization", NormRules::layerNorm);
  }

  /** The axes a reduction reduces, normalized; all axes when it names none. */
  private static long[] reducedAxes(Node n, GradContext c) {
    int r = c.rank(n.in(0));
    long[] axes = n.hasIn(1) ? c.constants(n.in(1)) : new long[0];
    if (axes == null) {
      throw new dev.loraort.builder.BuildException(
          "node "
              + n.name()
              + ": "
              + n.op()
              + " with axes computed at run time on the gradient path");
    }
    if (axes.length == 0) {
      if (n.i("noop_with_empty_axes", 0) != 0) {
        return axes;
      }
      axes = new long[r];
      for (int i = 0; i < r; i++) {
        axes[i] = i;
      }
    }
    long[] out = new long[axes.length];
    for (int i = 0; i < axes.length; i++) {
      out[i] = Shapes.normAxis(axes[i], r);
    }
    return out;
  }

  /** The gradient of a sum: g, its reduced axes restored, expanded back to the input's shape. */
  private static String spread(Node n, String g, GradContext c) {
    Emitter e = c.e();
    long[] axes = reducedAxes(n, c);
    if (axes.length == 0) {
      return g;
    }
    String kept = n.i("keepdims", 1) != 0 ? g : e.op("Unsqueeze", g, e.ints(axes));
    return e.op("Expand", kept, c.shapeOf(n.in(0)));
  }

  /** How many elements each output of a ReduceMean averages, as a scalar of the input's type. */
  private static String count(Node n, GradContext c) {
    Emitter e = c.e();
    long[] axes = reducedAxes(n, c);
    List<Dim> d = c.type(n.in(0)).dims();
    long fixed = 1;
    boolean known = true;
    for (long a : axes) {
      Dim k = d.get((int) a);
      if (k.known()) {
        fixed *= k.value();
      } else {
        known = false;
      }
    }
    if (known) {
      return c.scalar(fixed, n.in(0));
    }
    String ratio = e.div(e.op("Size", n.in(0)), e.op("Size", n.out(0)));
    return e.op("Cast", List.of(ratio), Attr.i("to", c.elem(n.in(0))));
  }

  /**
   * y = (x - mean) * invstd * scale + bias over the axes from {@code axis} on: with xhat = (x -
   * mean) * invstd and gh = g * scale, dx = invstd * (gh - mean(gh) - xhat * mean(gh * xhat)).
   */
  private static List<String> layerNorm(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String x = n.in(0);
    int r = c.rank(x);
    int axis = (int) Shapes.normAxis(n.i("axis", -1), r);
    List<Dim> stat = new ArrayList<>(c.type(x).dims());
    for (int i = axis; i < r; i++) {
      stat.set(i, Dim.of(1));
    }
    int stash = n.has("stash_type") ? (int) n.i("stash_type", 1) : 1;
    ValueType statType = new ValueType(stash, stat);
    String mean = c.forwardOutput(1, statType);
    String invStd = c.forwardOutput(2, statType);
    if (stash != c.elem(x)) {
      mean = e.op("Cast", List.of(mean), Attr.i("to", c.elem(x)));
      invStd = e.op("Cast", List.of(invStd), Attr.i("to", c.elem(x)));
    }
    long[] axes = new long[r - axis];
    for (int i = axis; i < r; i++) {
      axes[i - axis] = i;
    }
    String ax = e.ints(axes);
    String xhat = e.mul(e.sub(x, mean), invStd);
    String gy = g.get(0);
    String gx = null;
    if (c.needs(0)) {
      String gh = e.mul(gy, n.in(1));
      String m1 = e.op("ReduceMean", List.of(gh, ax), Attr.i("keepdims", 1));
      String m2 = e.op("ReduceMean", List.of(e.mul(gh, xhat), ax), Attr.i("keepdims", 1));
      gx = e.mul(invStd, e.sub(e.sub(gh, m1), e.mul(xhat, m2)));
    }
    String gs = c.needs(1) ? c.unbroadcast(e.mul(gy, xhat), n.out(0), n.in(1)) : null;
    String gb = n.hasIn(2) && c.needs(2) ? c.unbroadcast(gy, n.out(0), n.in(2)) : null;
    return asList(gx, gs, gb);
  }
}
