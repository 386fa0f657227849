package dev.loraort.trainer.optim;

import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.params.ParamTree;
import java.util.Map;

/** The checkpoint tensors of optimizer states: step counts and per-parameter arrays. */
final class Counts {
  private Counts() {}

  static Tensor tensor(long count) {
    return Tensor.ofLongs(new long[0], new long[] {count});
  }

  static long read(Map<String, Tensor> t, String name) {
    Tensor c = t.get(name);
    if (c == null) {
      throw new IllegalArgumentException("optimizer state: no " + name);
    }
    return c.longs()[0];
  }

  /** Copies the saved arrays under {@code prefix + name} into {@code into}'s arrays. */
  static void copy(Map<String, Tensor> t, String prefix, ParamTree into) {
    for (String n : into.names()) {
      Tensor v = t.get(prefix + n);
      if (v == null || v.size() != into.get(n).length) {
        throw new IllegalArgumentException(
            "optimizer state: "
                + prefix
                + n
                + (v == null
                    ? " is missing"
                    : " has " + v.size() + " values, expected " + into.get(n).length));
      }
      System.arraycopy(v.floats(), 0, into.get(n), 0, v.size());
    }
  }
}
