package dev.loraort.builder.shape;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One dimension: a fixed size, or a constant times a product of symbols ({@code batch}, {@code
 * 2*seq}, {@code batch*seq}). A dimension nothing can be said of is a fresh symbol ({@code ?7}): it
 * equals only itself. Two dims are known equal only if they are structurally equal.
 */
public final class Dim {
  private static final AtomicLong UNKNOWN = new AtomicLong();

  private final long coeff;
  private final TreeMap<String, Integer> syms;

  private Dim(long coeff, TreeMap<String, Integer> syms) {
    this.coeff = coeff;
    this.syms = syms;
  }

  /**
   * @param v a fixed size
   * @return the dim
   */
  public static Dim of(long v) {
    return new Dim(v, new TreeMap<>());
  }

  /**
   * @param symbol a symbolic name
   * @return the dim
   */
  public static Dim sym(String symbol) {
    TreeMap<String, Integer> s = new TreeMap<>();
    s.put(symbol, 1);
    return new Dim(1, s);
  }

  /**
   * @return a dim nothing is known of (equal only to itself)
   */
  public static Dim unknown() {
    return sym("?" + UNKNOWN.incrementAndGet());
  }

  /**
   * @return true for a dim nothing is known of ({@link #unknown})
   */
  public boolean isUnknown() {
    return syms.size() == 1 && syms.firstKey().startsWith("?");
  }

  /**
   * @return true for a fixed size
   */
  public boolean known() {
    return syms.isEmpty();
  }

  /**
   * @param v a size
   * @return true if this dim is that fixed size
   */
  public boolean is(long v) {
    return known() && coeff == v;
  }

  /**
   * @return the fixed size
   * @throws IllegalStateException if symbolic
   */
  public long value() {
    if (!known()) {
      throw new IllegalStateException("dim " + this + " is symbolic");
    }
    return coeff;
  }

  /**
   * @param o another dim
   * @return the product
   */
  public Dim times(Dim o) {
    TreeMap<String, Integer> s = new TreeMap<>(syms);
    o.syms.forEach((k, v) -> s.merge(k, v, Integer::sum));
    s.values().removeIf(v -> v == 0);
    long c = Math.multiplyExact(coeff, o.coeff);
    return c == 0 ? of(0) : new Dim(c, s);
  }

  /**
   * @param o a divisor
   * @return the exact quotient, or an unknown dim when it is not exact
   */
  public Dim div(Dim o) {
    if (o.coeff == 0 || coeff % o.coeff != 0) {
      return unknown();
    }
    TreeMap<String, Integer> s = new TreeMap<>(syms);
    for (Map.Entry<String, Integer> e : o.syms.entrySet()) {
      int left = s.getOrDefault(e.getKey(), 0) - e.getValue();
      if (left < 0) {
        return unknown();
      }
      if (left == 0) {
        s.remove(e.getKey());
      } else {
        s.put(e.getKey(), left);
      }
    }
    return new Dim(coeff / o.coeff, s);
  }

  /**
   * @param o another dim
   * @return the sum when it is a fixed size or a multiple of one monomial, else unknown
   */
  public Dim plus(Dim o) {
    if (syms.equals(o.syms)) {
      long c = coeff + o.coeff;
      return c == 0 ? of(0) : new Dim(c, new TreeMap<>(syms));
    }
    if (o.is(0)) {
      return this;
    }
    return is(0) ? o : unknown();
  }

  /**
   * @return the symbolic name for ONNX's dim_param ({@code batch}, {@code 2*seq})
   */
  public String param() {
    return toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Dim d && d.coeff == coeff && d.syms.equals(syms);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(coeff) * 31 + syms.hashCode();
  }

  @Override
  public String toString() {
    if (known()) {
      return Long.toString(coeff);
    }
    StringBuilder b = new StringBuilder();
    if (coeff != 1) {
      b.append(coeff);
    }
    syms.forEach(
        (k, v) -> {
          if (b.length() > 0) {
            b.append('*');
          }
          b.append(k);
          if (v != 1) {
            b.append('^').append(v);
          }
        });
    return b.toString();
  }
}
