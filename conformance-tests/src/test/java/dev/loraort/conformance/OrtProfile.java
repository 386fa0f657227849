package dev.loraort.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** Reads ONNX Runtime's profile of a session's one run beside the graph it optimized and ran. */
final class OrtProfile {
  private static final Set<String> FLOATS = Set.of("float", "float16", "bfloat16", "double");

  private OrtProfile() {}

  /**
   * Node outputs outside the forward that wait for their first reader while a forward node runs, as
   * ONNX Runtime ordered the run.
   *
   * @param dir where the session wrote its profile ({@code profile_<time>.json}) and the graph it
   *     ran ({@code profile.<graph>}): its profile prefix was {@code dir/profile}
   * @param graph the graph file's name
   * @return one line per waiting float output: node, op, and the forward node it waits across
   */
  static List<String> forwardWaits(Path dir, String graph) throws IOException {
    Run run = read(dir, graph);
    List<String> order = run.order();
    Map<String, Long> floatBytes = run.floatBytes();
    Onnx.GraphProto g = run.graph();
    Map<String, Onnx.NodeProto> byName = new HashMap<>();
    Map<String, Onnx.NodeProto> producer = new HashMap<>();
    Map<String, List<String>> readers = new HashMap<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      Onnx.NodeProto n = g.getNode(i);
      byName.put(n.getName(), n);
      for (int k = 0; k < n.getOutputCount(); k++) {
        producer.put(n.getOutput(k), n);
      }
      for (int k = 0; k < n.getInputCount(); k++) {
        readers.computeIfAbsent(n.getInput(k), x -> new ArrayList<>()).add(n.getName());
      }
    }
    Set<String> forward = new HashSet<>();
    Deque<String> todo = new ArrayDeque<>(List.of(TensorNames.LOSS));
    while (!todo.isEmpty()) {
      Onnx.NodeProto n = producer.get(todo.pop());
      if (n != null && forward.add(n.getName())) {
        for (int k = 0; k < n.getInputCount(); k++) {
          todo.push(n.getInput(k));
        }
      }
    }
    Map<String, Integer> at = new HashMap<>();
    for (int i = 0; i < order.size(); i++) {
      at.put(order.get(i), i);
    }
    List<String> waits = new ArrayList<>();
    for (int p = 0; p < order.size(); p++) {
      String b = order.get(p);
      Onnx.NodeProto n = byName.get(b);
      if (n == null || forward.contains(b) || floatBytes.get(b) == 0) {
        continue;
      }
      int first = Integer.MAX_VALUE;
      for (int k = 0; k < n.getOutputCount(); k++) {
        for (String r : readers.getOrDefault(n.getOutput(k), List.of())) {
          first = Math.min(first, at.getOrDefault(r, Integer.MAX_VALUE));
        }
      }
      for (int q = p + 1; q < first && q < order.size(); q++) {
        String f = order.get(q);
        if (forward.contains(f) && floatBytes.get(f) >= floatBytes.get(b)) {
          waits.add(b + " (" + n.getOpType() + ") across " + f);
          break;
        }
      }
    }
    return waits;
  }

  /**
   * Outputs of the chosen nodes whose lifetimes overlap in ONNX Runtime's order: one produced
   * before the last reader of one produced earlier has run.
   *
   * @param dir as {@link #forwardWaits}
   * @param graph the graph file's name
   * @param chosen which nodes of the optimized graph (ONNX Runtime keeps a node's name where it
   *     does not fuse it)
   * @return one line per overlapping pair, empty if each chosen output dies before the next is made
   */
  static List<String> overlappingOutputs(Path dir, String graph, Predicate<Onnx.NodeProto> chosen)
      throws IOException {
    Run run = read(dir, graph);
    Map<String, Integer> at = new HashMap<>();
    for (int i = 0; i < run.order().size(); i++) {
      at.put(run.order().get(i), i);
    }
    Map<String, Integer> lastRead = new HashMap<>();
    for (Onnx.NodeProto n : run.graph().getNodeList()) {
      for (int k = 0; k < n.getInputCount(); k++) {
        lastRead.merge(n.getInput(k), at.getOrDefault(n.getName(), -1), Math::max);
      }
    }
    List<Onnx.NodeProto> made =
        run.graph().getNodeList().stream()
            .filter(chosen)
            .filter(n -> at.containsKey(n.getName()))
            .sorted(java.util.Comparator.comparing(n -> at.get(n.getName())))
            .toList();
    List<String> overlaps = new ArrayList<>();
    for (int k = 1; k < made.size(); k++) {
      Onnx.NodeProto before = made.get(k - 1);
      Onnx.NodeProto next = made.get(k);
      int dies = lastRead.getOrDefault(before.getOutput(0), -1);
      if (dies > at.get(next.getName())) {
        overlaps.add(
            before.getName()
                + " (last read at "
                + dies
                + ") alive when "
                + next.getName()
                + " runs at "
                + at.get(next.getName()));
      }
    }
    if (made.isEmpty()) {
      overlaps.add("no chosen node ran");
    }
    return overlaps;
  }

  /** One profiled run: node names in execution order, their float output elements, the graph. */
  private record Run(List<String> order, Map<String, Long> floatBytes, Onnx.GraphProto graph) {}

  private static Run read(Path dir, String graph) throws IOException {
    Path profile;
    try (Stream<Path> files = Files.list(dir)) {
      profile =
          files
              .filter(f -> f.getFileName().toString().startsWith("profile_"))
              .filter(f -> f.toString().endsWith(".json"))
              .findFirst()
              .orElseThrow(() -> new IOException(dir + ": no profile_*.json"));
    }
    List<String> order = new ArrayList<>();
    Map<String, Long> floatBytes = new HashMap<>();
    JsonArray events = JsonParser.parseString(Files.readString(profile)).getAsJsonArray();
    for (JsonElement e : events) {
      JsonObject o = e.getAsJsonObject();
      String name = o.get("name").getAsString();
      if (o.has("cat")
          && o.get("cat").getAsString().equals("Node")
          && name.endsWith("_kernel_time")) {
        String node = name.substring(0, name.length() - "_kernel_time".length());
        order.add(node);
        long bytes = 0;
        JsonObject args = o.getAsJsonObject("args");
        if (args.has("output_type_shape")) {
          for (JsonElement t : args.getAsJsonArray("output_type_shape")) {
            for (Map.Entry<String, JsonElement> typed : t.getAsJsonObject().entrySet()) {
              long count = FLOATS.contains(typed.getKey()) ? 1 : 0;
              for (JsonElement d : typed.getValue().getAsJsonArray()) {
                count *= d.getAsLong();
              }
              bytes += count;
            }
          }
        }
        floatBytes.put(node, bytes);
      }
    }
    Onnx.GraphProto g =
        Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("profile." + graph))).getGraph();
    return new Run(order, floatBytes, g);
  }
}
