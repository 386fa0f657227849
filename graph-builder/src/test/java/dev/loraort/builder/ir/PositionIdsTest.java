package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** position_ids as Optimum's ORTModelForCausalLM computes them from the mask, in the graph. */
class PositionIdsTest {
  @TempDir Path dir;

  private static Graph graph(String... inputs) {
    List<Dim> dims = List.of(Dim.sym("batch"), Dim.sym("seq"));
    Graph g =
        new Graph(
            "p",
            13,
            List.of(),
            Map.of(),
            java.util.Arrays.stream(inputs)
                .map(i -> new ValueType(DataType.INT64_VALUE, dims).toValueInfo(i))
                .toList(),
            List.of());
    // the model reads position_ids; here it only passes them out
    g.add(new Node("Identity", "", "out", List.of("position_ids"), List.of("y"), Map.of()));
    g.outputs().add(new ValueType(DataType.INT64_VALUE, null).toValueInfo("y"));
    return g;
  }

  @Test
  void aMaskedBatchGetsRunningPositionsAndOneAtPadding() throws Exception {
    Graph g = graph("input_ids", "attention_mask", "position_ids");
    assertThat(PositionIds.fromMask(g)).isTrue();
    assertThat(g.inputs())
        .extracting(v -> v.getName())
        .containsExactly("input_ids", "attention_mask");
    Path f = dir.resolve("p.onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve("p.bin"))) {
      OnnxModels.write(g, f, w, Map.of(), "test");
    }
    // right padding (transformers' default positions where attended) and left padding
    long[] mask = {1, 1, 1, 0, 0, 0, 1, 1, 1, 1};
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(f.toString(), new OrtSession.SessionOptions());
        OnnxTensor ids =
            OnnxTensor.createTensor(env, LongBuffer.wrap(new long[10]), new long[] {2, 5});
        OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {2, 5});
        OrtSession.Result out = s.run(Map.of("input_ids", ids, "attention_mask", m))) {
      long[][] y = (long[][]) out.get(0).getValue();
      assertThat(y[0]).containsExactly(0, 1, 2, 1, 1);
      assertThat(y[1]).containsExactly(1, 0, 1, 2, 3);
    }
  }

  @Test
  void withoutAMaskTheInputStays() {
    Graph g = graph("input_ids", "position_ids");
    assertThat(PositionIds.fromMask(g)).isFalse();
    assertThat(g.inputs()).extracting(v -> v.getName()).contains("position_ids");
  }
}
