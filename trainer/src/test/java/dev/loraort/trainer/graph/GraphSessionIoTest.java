package dev.loraort.trainer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loraort.artifacts.Tensor;
import dev.loraort.kernels.BoundRun;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bound runs (IoBinding through the native library) against the Java API's copies, on the CPU EP.
 */
class GraphSessionIoTest {
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"tiny-roberta-cls", "tiny-gpt2-lm", "tiny-qwen2vl"})
  void boundRunsEqualCopiedRunsBitForBit(String id) throws IOException {
    assumeTrue(BoundRun.unavailableReason() == null, "no binding library in this build");
    Path dir = Path.of("../onnx-models", id);
    Map<String, Tensor> first = Fixture.read(dir).trainFeeds();
    Map<String, Tensor> second = scaled(first, 0.5f);
    Path train = dir.resolve("train.onnx");
    try (GraphSession copy = GraphSession.open(train, ExecutionDevice.CPU, 1);
        GraphSession bound =
            GraphSession.open(
                train, ExecutionDevice.CPU, 1, null, false, ExecutionDevice.Io.BOUND)) {
      List<String> outputs = new ArrayList<>(copy.io(true).keySet());
      // the first run of a signature binds it; the later ones go through the binding, whose
      // inputs must be refreshed on every run (second, then first again)
      for (Map<String, Tensor> feeds : List.of(first, second, first, second)) {
        Map<String, Tensor> expected = copy.run(feeds, outputs);
        Map<String, Tensor> actual = bound.run(feeds, outputs);
        assertThat(actual.keySet()).containsExactlyElementsOf(outputs);
        for (String o : outputs) {
          assertThat(actual.get(o).shape()).as(o).isEqualTo(expected.get(o).shape());
          assertThat(actual.get(o).floats()).as(o).isEqualTo(expected.get(o).floats());
        }
      }
      assertThat(bound.boundSignatures()).isEqualTo(1);
      // another set of outputs is another signature
      bound.run(first, outputs.subList(0, 1));
      assertThat(bound.boundSignatures()).isEqualTo(2);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cuda-graph"})
  void cudaGraphNeedsCuda(String io) {
    assertThatThrownBy(() -> ExecutionDevice.CPU.withIo(ExecutionDevice.Io.CUDA_GRAPH))
        .hasMessageContaining("--io " + io + " needs --device cuda");
  }

  /** The feeds with every float input (the LoRA matrices, the scale) multiplied by {@code f}. */
  private static Map<String, Tensor> scaled(Map<String, Tensor> feeds, float f) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    feeds.forEach(
        (n, t) -> {
          if (t.dtype() == Tensor.DType.F32) {
            float[] a = t.floats().clone();
            for (int i = 0; i < a.length; i++) {
              a[i] *= f;
            }
            out.put(n, Tensor.ofFloats(t.shape(), a));
          } else {
            out.put(n, t);
          }
        });
    return out;
  }
}
