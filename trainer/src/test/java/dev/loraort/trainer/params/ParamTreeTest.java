package dev.loraort.trainer.params;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ParamTreeTest {
  /** One tensor over several chunks (with a ragged last one) and one smaller than a chunk. */
  private static ParamTree tree(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, Tensor> m = new LinkedHashMap<>();
    for (int n : new int[] {3 * Chunks.SIZE + 17, 101}) {
      float[] a = new float[n];
      for (int i = 0; i < n; i++) {
        a[i] = (float) r.nextGaussian();
      }
      m.put("t" + n, Tensor.ofFloats(new long[] {n}, a));
    }
    return ParamTree.of(m);
  }

  @Test
  void chunkedOperationsEqualTheElementwiseDefinitionAcrossChunkBoundaries() {
    ParamTree a = tree(1);
    ParamTree b = tree(2);
    double naive = 0;
    for (String k : a.names()) {
      for (float x : a.get(k)) {
        naive += (double) x * x;
      }
    }
    assertThat(a.globalNorm()).isCloseTo(Math.sqrt(naive), within(1e-12 * Math.sqrt(naive)));

    ParamTree expected = a.copy();
    for (String k : a.names()) {
      float[] e = expected.get(k);
      float[] y = b.get(k);
      for (int i = 0; i < e.length; i++) {
        e[i] = (e[i] + 0.25f * y[i]) * -3f;
      }
    }
    a.addScaled(0.25, b);
    a.scale(-3);
    for (String k : a.names()) {
      assertThat(a.get(k)).as(k).containsExactly(expected.get(k));
    }
  }

  @Test
  void firstNonFiniteNamesTheFirstBadValueAndPassesTheLargestFloats() {
    ParamTree a = tree(4);
    float[] big = a.get("t" + (3 * Chunks.SIZE + 17));
    java.util.Arrays.fill(big, Float.MAX_VALUE); // the largest floats are finite
    big[7] = -Float.MAX_VALUE;
    assertThat(a.firstNonFinite()).isNull();
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      ParamTree t = tree(4);
      t.get("t101")[50] = bad;
      assertThat(t.firstNonFinite()).isEqualTo("t101[50] = " + bad);
      t.get("t" + (3 * Chunks.SIZE + 17))[2 * Chunks.SIZE + 3] = Float.NaN;
      assertThat(t.firstNonFinite())
          .isEqualTo("t" + (3 * Chunks.SIZE + 17) + "[" + (2 * Chunks.SIZE + 3) + "] = NaN");
    }
  }

  @Test
  void globalNormIsTheSameOnEveryCall() {
    ParamTree a = tree(3);
    double first = a.globalNorm();
    for (int i = 0; i < 20; i++) {
      assertThat(a.globalNorm()).isEqualTo(first);
    }
  }
}
