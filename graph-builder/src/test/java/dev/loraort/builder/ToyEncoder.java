package dev.loraort.builder;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.builder.ir.WeightsFile;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

/**
 * A small encoder written as a TorchScript export would write it: an embedding table, then two
 * linear layers whose weights are anonymous transposed copies named through their biases ({@code
 * enc.query}, {@code enc.value}), an activation between them, output {@code last_hidden_state}
 * [batch, seq, 8]. Tests swap the activation to put other ops on the gradient path.
 */
final class ToyEncoder {
  static final int VOCAB = 64;
  static final int WIDTH = 8;

  private ToyEncoder() {}

  /**
   * @param file where to write the model (weights of 1 KiB and more go to {@code weights})
   * @param weights the external data file's name beside it
   * @param opset the ai.onnx opset to declare
   * @param activation emits the op between the two layers: (emitter, input) -> output
   */
  static void write(
      Path file, String weights, int opset, BiFunction<Emitter, String, String> activation) {
    Graph g =
        new Graph(
            "toy",
            opset,
            List.of(),
            Map.of(),
            List.of(
                new ValueType(DataType.INT64_VALUE, List.of(Dim.sym("b"), Dim.sym("s")))
                    .toValueInfo("input_ids"),
                new ValueType(DataType.INT64_VALUE, List.of(Dim.sym("b"), Dim.sym("s")))
                    .toValueInfo("attention_mask")),
            List.of());
    Random r = new Random(3);
    init(g, "embeddings.word_embeddings.weight", r, VOCAB, WIDTH);
    init(g, "onnx::MatMul_1", r, WIDTH, WIDTH);
    init(g, "enc.query.bias", r, WIDTH);
    init(g, "onnx::MatMul_2", r, WIDTH, WIDTH);
    init(g, "enc.value.bias", r, WIDTH);
    Emitter e = new Emitter(g, "toy");
    String emb = e.op("Gather", "embeddings.word_embeddings.weight", "input_ids");
    String q = e.add(e.op("MatMul", emb, "onnx::MatMul_1"), "enc.query.bias");
    String a = activation.apply(e, q);
    String v = e.add(e.op("MatMul", a, "onnx::MatMul_2"), "enc.value.bias");
    g.add(new Node("Identity", "", "", List.of(v), List.of("last_hidden_state"), Map.of()));
    g.outputs()
        .add(
            new ValueType(DataType.FLOAT_VALUE, List.of(Dim.sym("b"), Dim.sym("s"), Dim.of(WIDTH)))
                .toValueInfo("last_hidden_state"));
    try (WeightsFile w = new WeightsFile(file.resolveSibling(weights))) {
      OnnxModels.write(g, file, w, Map.of(), "toy");
    }
  }

  private static void init(Graph g, String name, Random r, long... dims) {
    int n = 1;
    for (long d : dims) {
      n *= (int) d;
    }
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (0.3 * r.nextGaussian());
    }
    g.addInitializer(name, Tensors.floats(name, dims, v));
  }
}
