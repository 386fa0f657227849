package dev.loraort.builder.autodiff;

import static java.util.Arrays.asList;

import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Node;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of elementwise ops. Where an op's derivative is a function of its output, the rule
 * reads the output instead of recomputing it (exp: g*y; tanh: g*(1-y^2); sigmoid: g*y*(1-y)).
 */
final class ElementwiseRules {
  private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
  private static final double INV_SQRT2 = 1 / Math.sqrt(2);
  private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
  private static final double GELU_TANH_C = 0.044715;

  private ElementwiseRules() {}

  static void register(Map<String, GradRule> r) {
    r.put(
        "Add",
        (n, g, c) ->
            asList(
                c.needs(0) ? c.unbroadcast(g.get(0), n.out(0), n.in(0)) : null,
                c.needs(1) ? c.unbroadcast(g.get(0), n.out(0), n.in(1)) : null));
    r.put(
        "Sub",
        (n, g, c) ->
            asList(
                c.needs(0) ? c.unbroadcast(g.get(0), n.out(0), n.in(0)) : null,
                c.needs(1) ? c.unbroadcast(c.e().neg(g.get(0)), n.out(0), n.in(1)) : null));
    r.put(
        "Sum",
        (n, g, c) -> {
          List<String> out = new ArrayList<>();
          for (int i = 0; i < n.inputs().size(); i++) {
            out.add(c.needs(i) ? c.unbroadcast(g.get(0), n.out(0), n.in(i)) : null);
          }
          return out;
        });
    r.put(
        "Mul",
        (n, g, c) -> {
          Emitter e = c.e();
          return asList(
              c.needs(0) ? c.unbroadcast(e.mul(g.get(0), n.in(1)), n.out(0), n.in(0)) : null,
              c.needs(1) ? c.unbroadcast(e.mul(g.get(0), n.in(0)), n.out(0), n.in(1)) : null);
        });
    r.put(
        "Div",
        (n, g, c) -> {
          // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b = -(g/b) * y: one shared division
          Emitter e = c.e();
          String gOverB = e.div(g.get(0), n.in(1));
          return asList(
              c.needs(0) ? c.unbroadcast(gOverB, n.out(0), n.in(0)) : null,
              c.needs(1) ? c.unbroadcast(e.neg(e.mul(gOverB, n.out(0))), n.out(0), n.in(1)) : null);
        });
    r.put("Neg", (n, g, c) -> asList(c.e().neg(g.get(0))));
    r.put("Identity", (n, g, c) -> asList(g.get(0)));
    r.put(
        "Cast",
        (n, g, c) -> asList(c.e().op("Cast", List.of(g.get(0)), Attr.i("to", c.elem(n.in(0))))));
    r.put("Pow", ElementwiseRules::pow);
    r.put(
        "Sqrt",
        (n, g, c) -> asList(c.e().div(c.e().mul(g.get(0), c.scalar(0.5, n.in(0))), n.out(0))));
    r.put(
        "Reciprocal",
        (n, g, c) -> asList(c.e().neg(c.e().mul(g.get(0), c.e().mul(n.out(0), n.out(0))))));
    r.put("Exp", (n, g, c) -> asList(c.e().mul(g.get(0), n.out(0))));
    r.put("Log", (n, g, c) -> asList(c.e().div(g.get(0), n.in(0))));
    r.put(
        "Erf",
        (n, g, c) -> {
          Emitter e = c.e();
          String x = n.in(0);
          String dens = e.op("Exp", e.neg(e.mul(x, x)));
          return asList(e.mul(g.get(0), e.mul(dens, c.scalar(TWO_OVER_SQRT_PI, x))));
        });
    r.put(
        "Tanh",
        (n, g, c) -> {
          Emitter e = c.e();
          String y = n.out(0);
          return asList(e.mul(g.get(0), e.sub(c.scalar(1, y), e.mul(y, y))));
        });
    r.put(
        "Sigmoid",
        (n, g, c) -> {
          Emitter e = c.e();
          String y = n.out(0);
          return asList(e.mul(g.get(0), e.mul(y, e.sub(c.scalar(1, y), y))));
        });
    r.put(
        "Relu",
        (n, g, c) -> {
          Emitter e = c.e();
          String pos = e.op("Greater", n.out(0), c.scalar(0, n.out(0)));
          return asList(e.op("Where", pos, g.get(0), c.scalar(0, n.out(0))));
        });
    r.put("Abs", (n, g, c) -> asList(c.e().mul(g.get(0), c.e().op("Sign", n.in(0)))));
    r.put("Softplus", (n, g, c) -> asList(c.e().mul(g.get(0), c.e().op("Sigmoid", n.in(0)))));
    r.put("Sin", (n, g, c) -> asList(c.e().mul(g.get(0), c.e().op("Cos", n.in(0)))));
    r.put("Cos", (n, g, c) -> asList(c.e().neg(c.e().mul(g.get(0), c.e().op("Sin", n.in(0))))));
    r.put("Gelu", ElementwiseRules::gelu);
    r.put("Max", (n, g, c) -> choose(n, g, c, "GreaterOrEqual"));
    r.put("Min", (n, g, c) -> choose(n, g, c, "LessOrEqual"));
    r.put(
        "Where",
        (n, g, c) -> {
          Emitter e = c.e();
          String zero = c.scalar(0, n.out(0));
          return asList(
              null,
              c.needs(1)
                  ? c.unbroadcast(e.op("Where", n.in(0), g.get(0), zero), n.out(0), n.in(1))
                  : null,
              c.needs(2)
                  ? c.unbroadcast(e.op("Where", n.in(0), zero, g.get(0)), n.out(0), n.in(2))
                  : null);
        });
    r.put(
        "Clip",
        (n, g, c) -> {
          // PyTorch's convention: the gradient passes where min <= x <= max
          Emitter e = c.e();
          String x = n.in(0);
          String keep = null;
          if (n.hasIn(1)) {
            keep = e.op("GreaterOrEqual", x, n.in(1));
          }
          if (n.hasIn(2)) {
            String le = e.op("LessOrEqual", x, n.in(2));
            keep = keep == null ? le : e.op("And", keep, le);
          }
          return asList(keep == null ? g.get(0) : e.op("Where", keep, g.get(0), c.scalar(0, x)));
        });
  }

  /** Max/Min: the gradient goes to the chosen operand (ties: the first). */
  private static List<String> choose(Node n, List<String> g, GradContext c, String firstWins) {
    Emitter e = c.e();
    if (n.inputs().size() != 2) {
      throw new dev.loraort.builder.BuildException(
          "node "
              + n.name()
              + ": "
              + n.op()
              + " of "
              + n.inputs().size()
              + " inputs on the gradient path");
    }
    String zero = c.scalar(0, n.out(0));
    String first = e.op(firstWins, n.in(0), n.in(1));
    return asList(
        c.needs(0) ? c.unbroadcast(e.op("Where", first, g.get(0), zero), n.out(0), n.in(0)) : null,
        c.needs(1) ? c.unbroadcast(e.op("Where", first, zero, g.get(0)), n.out(0), n.in(1)) : null);
  }

  private static List<String> pow(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String x = n.in(0);
    String p = n.in(1);
    double[] pc = c.floatConstant(p);
    String gx = null;
    if (c.needs(0)) {
      if (pc != null && pc.length == 1 && pc[0] == 2) {
        gx = e.mul(e.mul(g.get(0), x), c.scalar(2, x));
      } else if (pc != null && pc.length == 1 && pc[0] == 0.5) {
        gx = e.div(e.mul(g.get(0), c.scalar(0.5, x)), n.out(0));
      } else if (pc != null && pc.length == 1) {
        gx = e.mul(g.get(0), e.mul(c.scalar(pc[0], x), e.op("Pow", x, c.scalar(pc[0] - 1, x))));
      } else {
        String pf = c.elem(p) == c.elem(x) ? p : e.op("Cast", List.of(p), Attr.i("to", c.elem(x)));
        String dy = e.mul(pf, e.op("Pow", x, e.sub(pf, c.scalar(1, x))));
        gx = c.unbroadcast(e.mul(g.get(0), dy), n.out(0), x);
      }
    }
    String gp = null;
    if (c.needs(1)) {
      gp = c.unbroadcast(e.mul(e.mul(g.get(0), n.out(0)), e.op("Log", x)), n.out(0), p);
    }
    return asList(gx, gp);
  }

  /** GELU: g * (Phi(x) + x phi(x)) exactly, or the derivative of its tanh approximation. */
  private static List<String> gelu(Node n, List<String> g, GradContext c) {
    Emitter e = c.e();
    String x = n.in(0);
    if (n.s("approximate", "none").equals("tanh")) {
      // y = 0.5 x (1 + t), t = tanh(u), u = k (x + a x^3):
      // dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2)
      String x2 = e.mul(x, x);
      String u =
          e.mul(
              c.scalar(SQRT_2_OVER_PI, x),
              e.mul(x, e.add(c.scalar(1, x), e.mul(c.scalar(GELU_TANH_C, x), x2))));
      String t = e.op("Tanh", u);
      String half1pt = e.mul(c.scalar(0.5, x), e.add(c.scalar(1, x), t));
      String du =
          e.mul(
              c.scalar(SQRT_2_OVER_PI, x),
              e.add(c.scalar(1, x), e.mul(c.scalar(3 * GELU_TANH_C, x), x2)));
      String rest =
          e.mul(e.mul(c.scalar(0.5, x), x), e.mul(e.sub(c.scalar(1, x), e.mul(t, t)), du));
      return asList(e.mul(g.get(0), e.add(half1pt, rest)));
    }
    String cdf =
        e.mul(
            e.add(e.op("Erf", e.mul(x, c.scalar(INV_SQRT2, x))), c.scalar(1, x)), c.scalar(0.5, x));
    String pdf =
        e.mul(e.op("Exp", e.mul(e.mul(x, x), c.scalar(-0.5, x))), c.scalar(INV_SQRT_2PI, x));
    return asList(e.mul(g.get(0), e.add(cdf, e.mul(x, pdf))));
  }
}
