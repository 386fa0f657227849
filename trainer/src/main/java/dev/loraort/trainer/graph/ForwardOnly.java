package dev.loraort.trainer.graph;

import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.GraphProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ModelProto;
import dev.loraort.artifacts.onnx.proto.Onnx.NodeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A train graph cut to what its loss reads: the forward alone. ONNX Runtime runs every node of a
 * graph whatever outputs a run asks for, so a run that needs the loss only (a sharpness probe, a
 * finite difference) through the train graph pays for the backward too, about two thirds of it.
 */
final class ForwardOnly {
  /** The cut graphs' file names: this prefix, the writing process's id, a dash. */
  static final String PREFIX = ".train-loss-";

  private ForwardOnly() {}

  /**
   * Writes the cut graph beside the train graph, as a hidden temporary file: ONNX Runtime reads
   * external data only from the graph's own directory (it refuses a link that leads out of it).
   *
   * @param train a train graph file (output {@code loss})
   * @return the cut graph's file (the caller deletes it once a session has read it), or null where
   *     the graph has a subgraph (If, Loop, Scan) or its directory is read-only: then the train
   *     graph itself serves
   * @throws GraphException if the graph has no loss output
   */
  static Path write(Path train) {
    ModelProto model;
    try {
      model = ModelProto.parseFrom(Files.readAllBytes(train));
    } catch (IOException e) {
      throw new UncheckedIOException(train + ": cannot be read", e);
    }
    GraphProto g = model.getGraph();
    if (g.getOutputList().stream().noneMatch(o -> o.getName().equals(TensorNames.LOSS))) {
      throw new GraphException(train + ": no output " + TensorNames.LOSS);
    }
    Set<String> read = new HashSet<>(Set.of(TensorNames.LOSS));
    List<NodeProto> kept = new ArrayList<>();
    for (int k = g.getNodeCount() - 1; k >= 0; k--) {
      NodeProto n = g.getNode(k);
      boolean needed = false;
      for (int i = 0; i < n.getOutputCount(); i++) {
        needed |= read.contains(n.getOutput(i));
      }
      if (needed) {
        for (int i = 0; i < n.getAttributeCount(); i++) {
          if (isGraph(n.getAttribute(i))) {
            return null;
          }
        }
        kept.add(0, n);
        for (int i = 0; i < n.getInputCount(); i++) {
          read.add(n.getInput(i));
        }
      }
    }
    GraphProto.Builder cut =
        g.toBuilder().clearNode().addAllNode(kept).clearInitializer().clearOutput();
    g.getOutputList().stream()
        .filter(o -> o.getName().equals(TensorNames.LOSS))
        .forEach(cut::addOutput);
    for (TensorProto t : g.getInitializerList()) {
      if (read.contains(t.getName())) {
        cut.addInitializer(t);
      }
    }
    Path dir = train.toAbsolutePath().getParent();
    try {
      removeOrphans(dir);
      Path file = Files.createTempFile(dir, PREFIX + ProcessHandle.current().pid() + "-", ".onnx");
      file.toFile().deleteOnExit(); // should a session fail to open before the caller deletes it
      Files.write(file, model.toBuilder().setGraph(cut).build().toByteArray());
      return file;
    } catch (IOException e) {
      return null; // a read-only model directory
    }
  }

  /**
   * Deletes the cut graphs that a process killed between writing one and opening it left behind
   * (deleteOnExit does not run on SIGKILL): those whose writer is no longer running. Another live
   * process's file is left to it.
   */
  private static void removeOrphans(Path dir) throws IOException {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, PREFIX + "*.onnx")) {
      for (Path f : files) {
        String rest = f.getFileName().toString().substring(PREFIX.length());
        int dash = rest.indexOf('-');
        if (dash > 0 && rest.substring(0, dash).chars().allMatch(Character::isDigit)) {
          long pid = Long.parseLong(rest.substring(0, dash));
          if (ProcessHandle.of(pid).isEmpty()) {
            Files.deleteIfExists(f);
          }
        }
      }
    }
  }

  private static boolean isGraph(AttributeProto a) {
    return a.getType() == AttributeProto.AttributeType.GRAPH
        || a.getType() == AttributeProto.AttributeType.GRAPHS;
  }
}
