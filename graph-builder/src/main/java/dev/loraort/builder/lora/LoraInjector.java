package dev.loraort.builder.lora;

import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Adds the LoRA branch to chosen linear layers of a graph: {@code y' = y + ((x A^T) s) B^T}, with A
 * {@code [lora_r, in]}, B {@code [out, lora_r]} and s ({@code lora_scale}) graph inputs under the
 * contract's names. The scale multiplies the rank-r activation, the smallest tensor on the branch.
 * With random weight perturbation (Flat-LoRA's train_rwp graph), each layer also adds {@code x
 * eps}, where eps is filter-wise Gaussian noise on W' = W0 + s B A with std {@code rwp_sigma /
 * sqrt(in) * ||W'_i,:||} (docs/methods.md section 5), drawn in the graph by a RandomNormalLike per
 * layer (seed 1000 + layer index) and returned as {@code rwp_noise.<module>} in [out, in].
 */
public final class LoraInjector {
  /** The shared rank dimension of every LoRA input. */
  public static final String RANK = "lora_r";

  private LoraInjector() {}

  /**
   * What an injection added besides the branches.
   *
   * @param noiseOutputs the {@code rwp_noise.<module>} outputs in layer order (empty without rwp)
   * @param noises the noise values the layers add: constants for differentiation (the reference
   *     draws them under no_grad), so no gradient flows into A and B through the noise's scale
   */
  public record Injected(List<String> noiseOutputs, Set<String> noises) {}

  /**
   * Injects the branches in place.
   *
   * @param g the graph (the layers' nodes belong to it)
   * @param layers the layers to adapt
   * @param rwp also add the random weight perturbation and its noise outputs
   * @param dropout drop elements of each branch's input (PEFT's lora_dropout), with the {@code
   *     lora_dropout} and {@code lora_dropout_seed} inputs ({@link Dropout})
   * @return the noise outputs and values (empty without rwp)
   */
  public static Injected inject(
      Graph g, List<LinearLayers.Layer> layers, boolean rwp, boolean dropout) {
    Emitter e = new Emitter(g, "lora");
    String scale = TensorNames.LORA_SCALE;
    g.inputs().add(new ValueType(DataType.FLOAT_VALUE, List.of()).toValueInfo(scale));
    if (rwp) {
      g.inputs()
          .add(new ValueType(DataType.FLOAT_VALUE, List.of()).toValueInfo(TensorNames.RWP_SIGMA));
    }
    if (dropout) {
      g.inputs()
          .add(
              new ValueType(DataType.FLOAT_VALUE, List.of()).toValueInfo(TensorNames.LORA_DROPOUT));
      g.inputs()
          .add(
              new ValueType(DataType.INT64_VALUE, List.of())
                  .toValueInfo(TensorNames.LORA_DROPOUT_SEED));
    }
    List<String> noiseOutputs = new ArrayList<>();
    Set<String> noises = new HashSet<>();
    int index = 0;
    for (LinearLayers.Layer l : layers) {
      String a = TensorNames.loraA(l.module());
      String b = TensorNames.loraB(l.module());
      g.inputs()
          .add(
              new ValueType(DataType.FLOAT_VALUE, List.of(Dim.sym(RANK), Dim.of(l.in())))
                  .toValueInfo(a));
      g.inputs()
          .add(
              new ValueType(DataType.FLOAT_VALUE, List.of(Dim.of(l.out()), Dim.sym(RANK)))
                  .toValueInfo(b));
      String y = l.output();
      String at = e.transpose(a, 1, 0);
      String bt = e.transpose(b, 1, 0);
      String x = dropout ? Dropout.apply(e, l.input(), index) : l.input();
      String v = e.mul(e.op("MatMul", x, at), scale);
      String branch = e.op("MatMul", v, bt);
      String sum = e.add(y, branch);
      Node readsY = g.nodes().get(g.nodes().size() - 1);
      if (rwp) {
        // W' = W0 + s B A in [in, out]: the layout x multiplies, so no transposed copy of W0
        String w0 = l.layout().equals("in_out") ? l.weight() : e.transpose(l.weight(), 1, 0);
        String wp = e.add(w0, e.mul(e.op("MatMul", at, bt), scale));
        String norm = e.op("ReduceL2", List.of(wp, e.ints(0)), Attr.i("keepdims", 1));
        String sigmaOverSqrt =
            e.div(TensorNames.RWP_SIGMA, e.scalar(Math.sqrt(l.in()), DataType.FLOAT_VALUE));
        String noise =
            e.mul(
                e.op("RandomNormalLike", List.of(wp), Attr.f("seed", 1000 + index)),
                e.mul(norm, sigmaOverSqrt));
        sum = e.add(sum, e.op("MatMul", l.input(), noise));
        String out = "rwp_noise." + l.module();
        g.add(
            new Node(
                "Transpose",
                "",
                "",
                List.of(noise),
                List.of(out),
                Map.of("perm", Attr.ints("perm", 1, 0))));
        noiseOutputs.add(out);
        noises.add(noise);
      }
      g.replaceUses(y, sum, Set.of(readsY));
      index++;
    }
    g.sortTopologically();
    return new Injected(noiseOutputs, noises);
  }
}
