package dev.loraort.builder.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.GraphProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.BuildException;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A key/value-cache export (Optimum's with-past decoders) trains on whole sequences. */
class PastKeyValuesTest {
  @TempDir Path dir;

  /**
   * The part of an attention layer the cache touches: the layer's new keys ("k", [batch, 2, seq,
   * 3]) joined after the cached ones along the sequence, returned as the present keys and read on
   * (here: summed over the sequence).
   */
  private static Graph cached(List<Dim> pastDims) {
    int f = DataType.FLOAT_VALUE;
    Graph g =
        new Graph(
            "kv",
            13,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(DataType.INT64_VALUE, List.of(Dim.sym("batch"), Dim.sym("seq")))
                    .toValueInfo("input_ids"),
                new ValueType(f, List.of(Dim.sym("batch"), Dim.of(2), Dim.sym("seq"), Dim.of(3)))
                    .toValueInfo("k"),
                new ValueType(f, pastDims).toValueInfo("past_key_values.0.key")),
            List.of());
    g.add(
        new Node(
            "Concat",
            "",
            "join",
            List.of("past_key_values.0.key", "k"),
            List.of("present.0.key"),
            Map.of("axis", Attr.i("axis", 2))));
    g.add(sumOverSequence("present.0.key", new Emitter(g, "t").ints(2), "y"));
    g.outputs().add(new ValueType(f, null).toValueInfo("y"));
    g.outputs().add(new ValueType(f, null).toValueInfo("present.0.key"));
    return g;
  }

  /** The keys read on: summed over the sequence (axis 2, given as {@code axes}). */
  private static Node sumOverSequence(String keys, String axes, String y) {
    return new Node(
        "ReduceSum",
        "",
        "read",
        List.of(keys, axes),
        List.of(y),
        Map.of("keepdims", Attr.i("keepdims", 0)));
  }

  @Test
  void theCacheIsEmptyAndThePresentOutputsGo() throws Exception {
    Graph g =
        cached(List.of(Dim.sym("batch"), Dim.of(2), Dim.sym("past_sequence_length"), Dim.of(3)));
    assertThat(PastKeyValues.toEmpty(g)).isEqualTo(1);
    assertThat(g.inputs()).extracting(v -> v.getName()).containsExactly("input_ids", "k");
    assertThat(g.outputs()).extracting(v -> v.getName()).containsExactly("y");
    Path file = dir.resolve("kv.onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve("kv.bin"))) {
      OnnxModels.write(g, file, w, Map.of(), "test");
    }
    float[] k = new float[2 * 2 * 4 * 3];
    for (int i = 0; i < k.length; i++) {
      k[i] = i;
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor ids =
            OnnxTensor.createTensor(env, LongBuffer.wrap(new long[8]), new long[] {2, 4});
        OnnxTensor keys =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(k), new long[] {2, 2, 4, 3});
        OrtSession.Result out = s.run(Map.of("input_ids", ids, "k", keys))) {
      float[][][] y = (float[][][]) out.get(0).getValue();
      // with nothing cached, the joined keys are the new keys: their sum over the 4 positions
      for (int b = 0; b < 2; b++) {
        for (int h = 0; h < 2; h++) {
          for (int d = 0; d < 3; d++) {
            float want = 0;
            for (int t = 0; t < 4; t++) {
              want += k[((b * 2 + h) * 4 + t) * 3 + d];
            }
            assertThat(y[b][h][d]).isEqualTo(want);
          }
        }
      }
    }
  }

  @Test
  void aCacheInputOfAnotherLayoutIsNamedInTheError() {
    Graph g = cached(List.of(Dim.sym("batch"), Dim.sym("past_sequence_length"), Dim.of(6)));
    assertThatThrownBy(() -> PastKeyValues.toEmpty(g))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("key/value cache input past_key_values.0.key is not [batch, heads,");
  }

  /**
   * Optimum's merged form of {@link #cached}: an If on use_cache_branch whose then branch joins the
   * cache and whose else branch (no cache) reads the new keys alone; both give y and the present
   * keys.
   */
  private static Graph merged() {
    int f = DataType.FLOAT_VALUE;
    Graph g =
        cached(List.of(Dim.sym("batch"), Dim.of(2), Dim.sym("past_sequence_length"), Dim.of(3)));
    g.nodes().clear();
    g.outputs().clear();
    g.inputs()
        .add(
            new ValueType(DataType.BOOL_VALUE, List.of(Dim.of(1)))
                .toValueInfo(PastKeyValues.MERGED));
    String axes = new Emitter(g, "t").ints(2);
    ValueType any = new ValueType(f, null);
    GraphProto withCache =
        GraphProto.newBuilder()
            .setName("with_cache")
            .addNode(
                new Node(
                        "Concat",
                        "",
                        "join",
                        List.of("past_key_values.0.key", "k"),
                        List.of("joined"),
                        Map.of("axis", Attr.i("axis", 2)))
                    .toProto())
            .addNode(sumOverSequence("joined", axes, "y_cached").toProto())
            .addOutput(any.toValueInfo("y_cached"))
            .addOutput(any.toValueInfo("joined"))
            .build();
    GraphProto withoutCache =
        GraphProto.newBuilder()
            .setName("without_cache")
            .addNode(
                new Node("Identity", "", "keys", List.of("k"), List.of("keys"), Map.of()).toProto())
            .addNode(sumOverSequence("keys", axes, "y").toProto())
            .addOutput(any.toValueInfo("y"))
            .addOutput(any.toValueInfo("keys"))
            .build();
    g.add(
        new Node(
            "If",
            "",
            "merged",
            List.of(PastKeyValues.MERGED),
            List.of("y", "present.0.key"),
            Map.of(
                "then_branch",
                    AttributeProto.newBuilder()
                        .setName("then_branch")
                        .setType(AttributeProto.AttributeType.GRAPH)
                        .setG(withCache)
                        .build(),
                "else_branch",
                    AttributeProto.newBuilder()
                        .setName("else_branch")
                        .setType(AttributeProto.AttributeType.GRAPH)
                        .setG(withoutCache)
                        .build())));
    g.outputs().add(any.toValueInfo("y"));
    g.outputs().add(any.toValueInfo("present.0.key"));
    return g;
  }

  @Test
  void aMergedExportTrainsThroughItsBranchWithoutACache() throws Exception {
    Graph g = merged();
    float[] k = new float[2 * 2 * 4 * 3];
    for (int i = 0; i < k.length; i++) {
      k[i] = i * 0.5f;
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    float[][][] want; // what the merged export computes at a generation's first step
    try (OnnxTensor past =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[0]), new long[] {2, 2, 0, 3});
        OnnxTensor branch = OnnxTensor.createTensor(env, new boolean[] {false})) {
      want =
          y(
              write(g, "merged"),
              k,
              Map.of("past_key_values.0.key", past, PastKeyValues.MERGED, branch));
    }
    assertThat(PastKeyValues.inlineNoCacheBranch(g)).isTrue();
    assertThat(PastKeyValues.toEmpty(g)).isEqualTo(1);
    assertThat(g.nodes()).extracting(Node::op).doesNotContain("If", "Concat");
    assertThat(g.inputs()).extracting(v -> v.getName()).containsExactly("input_ids", "k");
    assertThat(g.outputs()).extracting(v -> v.getName()).containsExactly("y");
    assertThat(y(write(g, "inlined"), k, Map.of())).isDeepEqualTo(want);
  }

  /** The model's y for 2 x 4 token ids, keys k and the other inputs given. */
  private static float[][][] y(Path model, float[] k, Map<String, OnnxTensor> more)
      throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(model.toString(), new OrtSession.SessionOptions());
        OnnxTensor ids =
            OnnxTensor.createTensor(env, LongBuffer.wrap(new long[8]), new long[] {2, 4});
        OnnxTensor keys =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(k), new long[] {2, 2, 4, 3})) {
      Map<String, OnnxTensor> in = new java.util.HashMap<>(more);
      in.put("input_ids", ids);
      in.put("k", keys);
      try (OrtSession.Result out = s.run(in)) {
        return (float[][][]) out.get(0).getValue();
      }
    }
  }

  @Test
  void aMergedExportWhoseSwitchIsNotOneIfIsRefusedWithHowToExportItUnmerged() {
    Graph g = merged();
    g.add(
        new Node(
            "Not", "", "also_read", List.of(PastKeyValues.MERGED), List.of("flipped"), Map.of()));
    assertThatThrownBy(() -> PastKeyValues.inlineNoCacheBranch(g))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("use_cache_branch input is read by 2 nodes")
        .hasMessageContaining("--no-post-process");
  }

  private Path write(Graph g, String name) throws Exception {
    Path file = dir.resolve(name + ".onnx");
    try (WeightsFile w = new WeightsFile(dir.resolve(name + ".bin"))) {
      OnnxModels.write(g, file, w, Map.of(), "test");
    }
    return file;
  }

  @Test
  void anExportWithoutACacheIsLeftAsItIs() {
    Graph g =
        cached(List.of(Dim.sym("batch"), Dim.of(2), Dim.sym("past_sequence_length"), Dim.of(3)));
    g.inputs().removeIf(v -> v.getName().startsWith(PastKeyValues.PAST));
    int nodes = g.nodes().size();
    assertThat(PastKeyValues.toEmpty(g)).isZero();
    assertThat(g.nodes()).hasSize(nodes);
  }
}
