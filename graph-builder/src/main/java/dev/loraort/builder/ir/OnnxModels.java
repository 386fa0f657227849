package dev.loraort.builder.ir;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.loraort.artifacts.onnx.ExternalData;
import dev.loraort.artifacts.onnx.proto.Onnx.GraphProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ModelProto;
import dev.loraort.artifacts.onnx.proto.Onnx.NodeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.OperatorSetIdProto;
import dev.loraort.artifacts.onnx.proto.Onnx.StringStringEntryProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.BuildException;
import dev.loraort.kernels.FusedKernels;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads ONNX models into a {@link Graph} and writes graphs back as ONNX files. Large tensors are
 * never copied onto the Java heap: the model file and its external data files are memory-mapped and
 * initializers alias them; writing moves them into one external weights file.
 */
public final class OnnxModels {
  /** ONNX Runtime's contrib-op domain (its fused and quantized ops). */
  public static final String MICROSOFT_DOMAIN = "com.microsoft";

  /** The oldest ai.onnx opset read (the langchain4j MiniLM/BGE/E5 exports are opset 11). */
  public static final int MIN_OPSET = 11;

  private OnnxModels() {}

  /**
   * What was read besides the graph.
   *
   * @param graph the main graph
   * @param irVersion the file's IR version
   * @param producer producer name and version
   * @param otherDomains opset imports of domains other than ai.onnx
   * @param metadata metadata_props
   */
  public record Model(
      Graph graph,
      long irVersion,
      String producer,
      Map<String, Long> otherDomains,
      Map<String, String> metadata) {}

  /**
   * Reads a model, resolving external data (relative to the model's directory) by mapping it.
   *
   * @param file an .onnx file
   * @return the model
   * @throws BuildException if the file is missing, not an ONNX model, of an opset older than {@link
   *     #MIN_OPSET}, or its external data is missing or truncated; the message names the file and
   *     the tensor
   */
  public static Model read(Path file) {
    ModelProto m;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > Integer.MAX_VALUE) {
        throw new BuildException(
            file
                + ": "
                + size
                + " bytes, over protobuf's 2 GiB; ONNX models this large keep their weights as"
                + " external data (torch.onnx.export(..., external_data=True))");
      }
      MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
      CodedInputStream in = CodedInputStream.newInstance(buf);
      in.enableAliasing(true); // raw_data aliases the mapping: weights are not copied
      in.setSizeLimit(Integer.MAX_VALUE);
      m = ModelProto.parseFrom(in);
    } catch (NoSuchFileException e) {
      throw new BuildException(file + " not found", e);
    } catch (InvalidProtocolBufferException e) {
      throw new BuildException(file + ": not an ONNX model (" + e.getMessage() + ")", e);
    } catch (IOException e) {
      throw new BuildException(file + ": cannot read: " + e.getMessage(), e);
    }
    if (!m.hasGraph()) {
      throw new BuildException(file + ": no graph; is it an ONNX model?");
    }
    int opset = -1;
    Map<String, Long> other = new LinkedHashMap<>();
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        opset = Math.toIntExact(o.getVersion());
      } else {
        other.put(o.getDomain(), o.getVersion());
      }
    }
    if (opset < 0) {
      throw new BuildException(file + ": imports no ai.onnx opset");
    }
    if (opset < MIN_OPSET) {
      throw new BuildException(
          file
              + ": ai.onnx opset "
              + opset
              + "; prepare reads opset "
              + MIN_OPSET
              + " and newer (re-export with opset_version >= "
              + MIN_OPSET
              + ")");
    }
    GraphProto g = m.getGraph();
    if (g.getSparseInitializerCount() > 0) {
      throw new BuildException(file + ": sparse initializers are not supported");
    }
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    for (TensorProto t : g.getInitializerList()) {
      try {
        // mapped, not copied: multi-GB weights stay off the heap
        boolean external = t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
        long bytes = external ? Tensors.numel(t) * Tensors.elemSize(t.getDataType()) : -1;
        inits.put(t.getName(), ExternalData.resolve(file, t, bytes));
      } catch (IOException e) {
        throw new BuildException(e.getMessage(), e);
      }
    }
    List<Node> nodes = new ArrayList<>();
    for (NodeProto n : g.getNodeList()) {
      nodes.add(Node.of(n));
    }
    List<ValueInfoProto> inputs = new ArrayList<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!inits.containsKey(v.getName())) { // IR < 4 lists initializers as inputs too
        inputs.add(v);
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    for (StringStringEntryProto e : m.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    Graph graph =
        new Graph(file.getFileName().toString(), opset, nodes, inits, inputs, g.getOutputList());
    for (ValueInfoProto v : g.getValueInfoList()) {
      graph.reserve(v.getName());
    }
    return new Model(
        graph,
        m.getIrVersion(),
        (m.getProducerName() + " " + m.getProducerVersion()).trim(),
        other,
        meta);
  }

  /**
   * Writes a graph as an ONNX model. Initializers of {@link WeightsFile#THRESHOLD} bytes or more go
   * to the weights file (each stored once, however many graphs use it); smaller ones stay inline.
   *
   * @param g the graph (nodes in topological order)
   * @param file the .onnx file
   * @param weights the shared external weights file
   * @param metadata metadata_props
   * @param producer producer_name
   * @throws BuildException if writing fails
   */
  public static void write(
      Graph g, Path file, WeightsFile weights, Map<String, String> metadata, String producer) {
    GraphProto.Builder gb = GraphProto.newBuilder().setName(g.source());
    // every node named: ONNX Runtime's profiles and errors otherwise call an unnamed node by its
    // op type and an index of its own, which no file holds; the first output names it uniquely
    Set<String> names = new HashSet<>();
    g.nodes().forEach(n -> names.add(n.name()));
    for (Node n : g.nodes()) {
      NodeProto p = n.toProto();
      if (p.getName().isEmpty()) {
        String base = p.getOpType() + "_" + (p.getOutputCount() > 0 ? p.getOutput(0) : "");
        String name = base;
        for (int k = 1; !names.add(name); k++) {
          name = base + "_" + k;
        }
        p = p.toBuilder().setName(name).build();
      }
      gb.addNode(p);
    }
    for (Map.Entry<String, TensorProto> e : g.initializers().entrySet()) {
      gb.addInitializer(weights.place(e.getValue()));
    }
    gb.addAllInput(g.inputs()).addAllOutput(g.outputs());
    ModelProto.Builder mb =
        ModelProto.newBuilder()
            .setIrVersion(irVersion(g.opset()))
            .setProducerName(producer)
            .setGraph(gb)
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(g.opset()));
    if (g.nodes().stream().anyMatch(n -> n.domain().equals(FusedKernels.DOMAIN))) {
      mb.addOpsetImport(
          OperatorSetIdProto.newBuilder()
              .setDomain(FusedKernels.DOMAIN)
              .setVersion(FusedKernels.OPSET));
    }
    // ONNX Runtime's contrib ops (a graph prepare refuses, or a test's quantized original)
    if (g.nodes().stream().anyMatch(n -> n.domain().equals(MICROSOFT_DOMAIN))) {
      mb.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MICROSOFT_DOMAIN).setVersion(1));
    }
    metadata.forEach(
        (k, v) -> mb.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    try (OutputStream out = Files.newOutputStream(file)) {
      CodedOutputStream cos = CodedOutputStream.newInstance(out, 1 << 16);
      mb.build().writeTo(cos);
      cos.flush();
    } catch (IOException e) {
      throw new BuildException(file + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** The IR version that goes with an opset (onnx/docs/Versioning.md's table). */
  static long irVersion(int opset) {
    if (opset <= 18) {
      return 8;
    }
    if (opset <= 20) {
      return 9;
    }
    return opset <= 22 ? 10 : 11;
  }
}
