package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import java.util.List;
import java.util.Map;

/**
 * An export that takes {@code position_ids} beside {@code attention_mask} (Optimum's decoder
 * exports do) gets them computed from the mask inside the graph, as Optimum's ORTModelForCausalLM
 * computes them: the running count of attended tokens minus one, and 1 where the mask is 0. The
 * prepared graphs then take what text and token-id data give (input ids and the mask). On a
 * right-padded batch these are transformers' default positions (0, 1, 2, ...) at every attended
 * token; a padded position gets 1, which nothing attends to.
 */
public final class PositionIds {
  /** The input name of transformers' and Optimum's exports. */
  public static final String INPUT = "position_ids";

  private static final String MASK = "attention_mask";

  private PositionIds() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph
   * @return whether {@code position_ids} was an input and is now computed
   */
  public static boolean fromMask(Graph g) {
    ValueInfoProto positions =
        g.inputs().stream().filter(v -> v.getName().equals(INPUT)).findFirst().orElse(null);
    if (positions == null
        || g.inputs().stream().noneMatch(v -> v.getName().equals(MASK))
        || positions.getType().getTensorType().getElemType() != DataType.INT64_VALUE) {
      return false;
    }
    g.inputs().remove(positions);
    Emitter e = new Emitter(g, INPUT);
    String mask = e.op("Cast", List.of(MASK), Attr.i("to", DataType.INT64_VALUE));
    String counted = e.op("CumSum", mask, e.scalar(-1, DataType.INT64_VALUE));
    String one = e.scalar(1, DataType.INT64_VALUE);
    String padding = e.op("Equal", mask, e.scalar(0, DataType.INT64_VALUE));
    g.add(
        new Node(
            "Where",
            "",
            g.fresh(INPUT + "/Where"),
            List.of(padding, one, e.sub(counted, one)),
            List.of(INPUT),
            Map.of()));
    g.sortTopologically();
    return true;
  }
}
