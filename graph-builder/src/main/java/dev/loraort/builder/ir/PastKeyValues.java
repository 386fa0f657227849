package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.GraphProto;
import dev.loraort.artifacts.onnx.proto.Onnx.NodeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorShapeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A decoder exported with its key/value cache (Optimum's text-generation-with-past: inputs {@code
 * past_key_values.N.key} and {@code .value} of [batch, heads, past length, head size], outputs
 * {@code present.N.key} and {@code .value}) trains on whole sequences: each past input becomes an
 * empty tensor (past length 0), which is what Optimum's ORTModelForCausalLM feeds at a generation's
 * first step, and the present outputs, which only generation reads, are dropped. The graphs then
 * take what text and token-id data give. A merged export (Optimum's default, {@code
 * decoder_model_merged.onnx}: both decoders as the branches of an {@code If} on a {@code
 * use_cache_branch} input) trains the same way: {@link #inlineNoCacheBranch} replaces the {@code
 * If} by its branch without a cache, whose layers are then straight-line like an unmerged export's.
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
   * A merged export's {@code If} on {@code use_cache_branch} replaced by its else branch (the
   * decoder without a cache, what {@code use_cache_branch = false} runs), inlined: the branch's
   * nodes and constants join the graph under names of their own, its outputs become the {@code
   * If}'s, and the {@code use_cache_branch} input goes. Run before anything else reads the graph's
   * nodes.
   *
   * @param g a graph as read
   * @return whether the graph was a merged export
   * @throws BuildException if {@code use_cache_branch} does not select exactly one {@code If}, or
   *     its branch has control flow of its own or constants in external data
   */
  public static boolean inlineNoCacheBranch(Graph g) {
    if (g.inputs().stream().noneMatch(v -> v.getName().equals(MERGED))) {
      return false;
    }
    List<Node> readers = g.nodes().stream().filter(n -> n.inputs().contains(MERGED)).toList();
    if (readers.size() != 1 || !readers.get(0).op().equals("If")) {
      throw new BuildException(
          "a merged decoder export whose "
              + MERGED
              + " input is read by "
              + readers.size()
              + " nodes, not one If: export it unmerged (optimum-cli export onnx"
              + " --no-post-process) and prepare decoder_model.onnx");
    }
    Node merged = readers.get(0);
    GraphProto branch = merged.attrs().get("else_branch").getG();
    Map<String, String> renamed = new HashMap<>();
    for (TensorProto t : branch.getInitializerList()) {
      if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        throw new BuildException(
            "the merged export's no-cache branch keeps constant "
                + t.getName()
                + " in external data; export it unmerged (optimum-cli export onnx"
                + " --no-post-process)");
      }
      String name = g.fresh(t.getName());
      renamed.put(t.getName(), name);
      g.addInitializer(name, t);
    }
    for (NodeProto p : branch.getNodeList()) {
      p.getOutputList().forEach(o -> renamed.put(o, o.isEmpty() ? o : g.fresh(o)));
    }
    List<Node> inlined = new ArrayList<>();
    for (NodeProto p : branch.getNodeList()) {
      Node n = Node.of(p);
      if (!n.subgraphReads().isEmpty()) {
        throw new BuildException(
            "the merged export's no-cache branch has control flow of its own (node "
                + n.name()
                + ", "
                + n.op()
                + "); export it unmerged (optimum-cli export onnx --no-post-process)");
      }
      List<String> in = new ArrayList<>(n.inputs());
      in.replaceAll(v -> renamed.getOrDefault(v, v));
      List<String> out = new ArrayList<>(n.outputs());
      out.replaceAll(v -> renamed.getOrDefault(v, v));
      inlined.add(new Node(n.op(), n.domain(), n.rawName(), in, out, n.attrs()));
    }
    for (int i = 0; i < merged.outputs().size(); i++) {
      String from = branch.getOutput(i).getName();
      inlined.add(
          new Node(
              "Identity",
              "",
              g.fresh(merged.out(i) + "/no_cache"),
              List.of(renamed.getOrDefault(from, from)),
              List.of(merged.out(i)),
              Map.of()));
    }
    int at = g.nodes().indexOf(merged);
    g.nodes().remove(at);
    g.nodes().addAll(at, inlined);
    g.inputs().removeIf(v -> v.getName().equals(MERGED));
    return true;
  }

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph
   * @return how many cache inputs became empty (0: the export has none)
   * @throws BuildException if a cache input is not [batch, heads, past length, head size] with
   *     fixed heads and head size, or the graph has no {@code input_ids} to take the batch from
   */
  public static int toEmpty(Graph g) {
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
