package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorShapeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A decoder exported with its key/value cache (Optimum's text-generation-with-past: inputs {@code
 * past_key_values.N.key} and {@code .value} of [batch, heads, past length, head size], outputs
 * {@code present.N.key} and {@code .value}) trains on whole sequences: each past input becomes an
 * empty tensor (past length 0), which is what Optimum's ORTModelForCausalLM feeds at a generation's
 * first step, and the present outputs, which only generation reads, are dropped. The graphs then
 * take what text and token-id data give. A merged export (both decoders as the branches of an
 * {@code If} on a {@code use_cache_branch} input) is refused with how to export it unmerged: its
 * layers sit inside the {@code If}'s subgraphs, and prepare differentiates straight-line graphs.
 */
public final class PastKeyValues {
  /** The prefix of the cache inputs. */
  public static final String PAST = "past_key_values.";

  /** The prefix of the cache outputs. */
  public static final String PRESENT = "present.";

  /** The input that selects a merged export's branch. */
  public static final String MERGED = "use_cache_branch";

  private static final String IDS = "input_ids";

  private PastKeyValues() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph
   * @return how many cache inputs became empty (0: the export has none)
   * @throws BuildException if the export is a merged one, a cache input is not [batch, heads, past
   *     length, head size] with fixed heads and head size, or the graph has no {@code input_ids} to
   *     take the batch from
   */
  public static int toEmpty(Graph g) {
    if (g.inputs().stream().anyMatch(v -> v.getName().equals(MERGED))) {
      throw new BuildException(
          "a merged decoder export (input "
              + MERGED
              + ": the decoders with and without a cache as the branches of an If), whose layers"
              + " prepare cannot reach; export it unmerged (optimum-cli export onnx"
              + " --no-post-process) and prepare decoder_model.onnx or decoder_with_past_model.onnx");
    }
    List<ValueInfoProto> past = new ArrayList<>();
    for (ValueInfoProto v : g.inputs()) {
      if (v.getName().startsWith(PAST)) {
        past.add(v);
      }
    }
    if (past.isEmpty()) {
      return 0;
    }
    if (g.inputs().stream().noneMatch(v -> v.getName().equals(IDS))) {
      throw new BuildException(
          "the export has key/value cache inputs ("
              + past.get(0).getName()
              + ", ...) but no "
              + IDS
              + " input to size their batch from");
    }
    Emitter e = new Emitter(g, "past_key_values");
    String batch = e.op("Slice", e.op("Shape", IDS), e.ints(0), e.ints(1));
    for (ValueInfoProto v : past) {
      List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
      if (dims.size() != 4 || !dims.get(1).hasDimValue() || !dims.get(3).hasDimValue()) {
        throw new BuildException(
            "key/value cache input "
                + v.getName()
                + " is not [batch, heads, past length, head size] with fixed heads and head"
                + " size: "
                + dims);
      }
      String shape =
          e.op(
              "Concat",
              List.of(
                  batch,
                  e.ints(dims.get(1).getDimValue()),
                  e.ints(0),
                  e.ints(dims.get(3).getDimValue())),
              Attr.i("axis", 0));
      int elem = v.getType().getTensorType().getElemType();
      g.add(
          new Node(
              "ConstantOfShape",
              "",
              g.fresh(v.getName() + "/empty"),
              List.of(shape),
              List.of(v.getName()),
              Map.of(
                  "value",
                  Attr.t(
                      "value", Tensors.scalar("value", elem, 0).toBuilder().addDims(1).build()))));
    }
    g.inputs().removeAll(past);
    g.outputs().removeIf(o -> o.getName().startsWith(PRESENT));
    g.sortTopologically();
    g.removeDeadNodes();
    return past.size();
  }
}
