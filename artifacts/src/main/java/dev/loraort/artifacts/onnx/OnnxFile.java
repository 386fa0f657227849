package dev.loraort.artifacts.onnx;

import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.onnx.proto.Onnx;
import dev.loraort.artifacts.protobuf.Protobuf;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the parts of an ONNX model that artifacts need (initializers, nodes, metadata) and writes
 * initializer-only models, the {@code adapter.onnx} format.
 */
public final class OnnxFile {
  /** IR version written (ONNX 1.15+ readers accept it). */
  static final int IR_VERSION = 9;

  /** Opset written into initializer-only files; they have no nodes, so it only labels the file. */
  static final int OPSET = 20;

  /**
   * A graph node: op type, inputs, outputs.
   *
   * @param opType e.g. MatMul
   * @param inputs input value names
   * @param outputs output value names
   */
  public record Node(String opType, List<String> inputs, List<String> outputs) {
    /** Copies the lists. */
    public Node {
      inputs = List.copyOf(inputs);
      outputs = List.copyOf(outputs);
    }
  }

  /**
   * What was read.
   *
   * @param initializers inline initializers by name (external ones are listed in {@code external})
   * @param external names of initializers stored as external data
   * @param nodes the main graph's nodes
   * @param metadata metadata_props
   */
  public record Contents(
      Map<String, Tensor> initializers,
      List<String> external,
      List<Node> nodes,
      Map<String, String> metadata) {
    /** Copies the collections, keeping order. */
    public Contents {
      initializers = Collections.unmodifiableMap(new LinkedHashMap<>(initializers));
      external = List.copyOf(external);
      nodes = List.copyOf(nodes);
      metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
  }

  private OnnxFile() {}

  /**
   * Writes an ONNX model that holds only initializers and metadata_props, atomically.
   *
   * @param path the target
   * @param initializers tensors by name
   * @param metadata string metadata (rank, alpha, method, base model, ...)
   * @param producer producer_name
   * @throws IOException if writing fails
   */
  public static void writeInitializers(
      Path path, Map<String, Tensor> initializers, Map<String, String> metadata, String producer)
      throws IOException {
    Protobuf.Writer graph = new Protobuf.Writer().string(2, "adapter");
    for (Map.Entry<String, Tensor> e : initializers.entrySet()) {
      graph.message(5, tensorProto(e.getKey(), e.getValue()));
    }
    Protobuf.Writer model =
        new Protobuf.Writer()
            .varint(1, IR_VERSION)
            .string(2, producer)
            .message(7, graph)
            .message(8, new Protobuf.Writer().string(1, "").varint(2, OPSET));
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      model.message(14, new Protobuf.Writer().string(1, e.getKey()).string(2, e.getValue()));
    }
    byte[] bytes = model.toByteArray();
    AtomicFiles.write(path, out -> out.write(bytes));
  }

  /**
   * Writes a copy of a model with some initializers replaced, some added, some graph inputs removed
   * and metadata added; initializers stored as external data are copied in (the copy stands alone);
   * every other field is copied byte for byte.
   *
   * @param in the source model
   * @param out the copy (written atomically)
   * @param replace initializers whose data to replace, by name (each must exist)
   * @param add new initializers
   * @param dropInputs graph inputs to remove (typically those now given by {@code add})
   * @param metadata metadata_props to add
   * @throws IOException if the source is unreadable or lacks an initializer to replace
   */
  public static void rewrite(
      Path in,
      Path out,
      Map<String, Tensor> replace,
      Map<String, Tensor> add,
      java.util.Set<String> dropInputs,
      Map<String, String> metadata)
      throws IOException {
    byte[] buf = Files.readAllBytes(in);
    Protobuf.Reader model = new Protobuf.Reader(buf, 0, buf.length, in.toString());
    Protobuf.Writer w = new Protobuf.Writer();
    java.util.Set<String> replaced = new java.util.HashSet<>();
    while (model.next()) {
      if (model.field() == 7 && model.wire() == Protobuf.LEN) {
        Protobuf.Reader g = model.message("graph");
        Protobuf.Writer gw = new Protobuf.Writer();
        while (g.next()) {
          if (g.field() == 5 && g.wire() == Protobuf.LEN) {
            Protobuf.Reader t = g.message("initializer");
            String name = tensorName(t);
            if (replace.containsKey(name)) {
              gw.message(5, tensorProto(name, replace.get(name)));
              replaced.add(name);
              continue;
            }
            byte[] field = g.rawField();
            Onnx.TensorProto tp = Onnx.TensorProto.parseFrom(payload(field));
            if (tp.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
              // the copy stands alone: its external data comes inline
              gw.bytes(5, ExternalData.resolve(in, tp, -1).toByteArray());
              continue;
            }
          } else if (g.field() == 11 && g.wire() == Protobuf.LEN) {
            Protobuf.Reader vi = g.message("input");
            if (dropInputs.contains(tensorName(vi, 1))) {
              continue;
            }
          } else {
            g.skip();
          }
          gw.raw(g.rawField());
        }
        for (Map.Entry<String, Tensor> e : add.entrySet()) {
          gw.message(5, tensorProto(e.getKey(), e.getValue()));
        }
        w.message(7, gw);
      } else {
        model.skip();
        w.raw(model.rawField());
      }
    }
    if (!replaced.containsAll(replace.keySet())) {
      java.util.Set<String> missing = new java.util.HashSet<>(replace.keySet());
      missing.removeAll(replaced);
      throw new IOException(in + ": no initializers " + missing);
    }
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      w.message(14, new Protobuf.Writer().string(1, e.getKey()).string(2, e.getValue()));
    }
    byte[] bytes = w.toByteArray();
    AtomicFiles.write(out, o -> o.write(bytes));
  }

  /** The payload of a length-delimited field given with its tag and length. */
  private static byte[] payload(byte[] field) throws IOException {
    Protobuf.Reader r = new Protobuf.Reader(field, 0, field.length, "field");
    r.next();
    int[] s = r.span();
    return java.util.Arrays.copyOfRange(field, s[0], s[1]);
  }

  /**
   * Reads one float initializer of a model, external data included.
   *
   * @param model the .onnx file
   * @param name the initializer
   * @return it, or null if the model has none of that name
   * @throws IOException if the file or its external data cannot be read
   */
  public static Tensor initializer(Path model, String name) throws IOException {
    Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(model));
    for (Onnx.TensorProto t : m.getGraph().getInitializerList()) {
      if (t.getName().equals(name)) {
        Onnx.TensorProto full = ExternalData.resolve(model, t, -1);
        Map<String, Tensor> one = new LinkedHashMap<>();
        readTensor(
            new Protobuf.Reader(full.toByteArray(), 0, full.getSerializedSize(), model.toString()),
            model,
            one,
            new ArrayList<>());
        return one.get(name);
      }
    }
    return null;
  }

  private static String tensorName(Protobuf.Reader t) throws IOException {
    return tensorName(t, 8);
  }

  /**
   * The string field {@code field} of a message (TensorProto name = 8, ValueInfoProto name = 1).
   */
  private static String tensorName(Protobuf.Reader t, int field) throws IOException {
    while (t.next()) {
      if (t.field() == field && t.wire() == Protobuf.LEN) {
        return t.string();
      }
      t.skip();
    }
    return "";
  }

  private static Protobuf.Writer tensorProto(String name, Tensor t) {
    Protobuf.Writer tp = new Protobuf.Writer();
    for (long d : t.shape()) {
      tp.varint(1, d);
    }
    return tp.varint(2, t.dtype().onnxCode).string(8, name).bytes(9, Safetensors.toBytes(t));
  }

  /**
   * Reads initializers, nodes and metadata of an ONNX model (up to 2 GiB; external data is listed,
   * not loaded).
   *
   * @param path the model
   * @return its contents
   * @throws IOException if the file is unreadable or not a valid ONNX protobuf; the message names
   *     the file and the tensor
   */
  public static Contents read(Path path) throws IOException {
    return read(Files.readAllBytes(path), path.toString());
  }

  /**
   * Reads initializers, nodes and metadata of an ONNX model held in memory (a jar entry, say).
   *
   * @param buf the model's bytes
   * @param source what the bytes are, for error messages
   * @return its contents
   * @throws IOException if the bytes are not a valid ONNX protobuf
   */
  public static Contents read(byte[] buf, String source) throws IOException {
    Path path = Path.of(source);
    Map<String, Tensor> inits = new LinkedHashMap<>();
    List<String> external = new ArrayList<>();
    List<Node> nodes = new ArrayList<>();
    Map<String, String> meta = new LinkedHashMap<>();
    Protobuf.Reader model = new Protobuf.Reader(buf, 0, buf.length, path.toString());
    boolean sawGraph = false;
    while (model.next()) {
      if (model.field() == 7 && model.wire() == Protobuf.LEN) {
        sawGraph = true;
        Protobuf.Reader g = model.message("graph");
        while (g.next()) {
          if (g.field() == 1 && g.wire() == Protobuf.LEN) {
            nodes.add(readNode(g.message("node")));
          } else if (g.field() == 5 && g.wire() == Protobuf.LEN) {
            readTensor(g.message("initializer"), path, inits, external);
          } else {
            g.skip();
          }
        }
      } else if (model.field() == 14 && model.wire() == Protobuf.LEN) {
        Protobuf.Reader kv = model.message("metadata_props");
        String k = "";
        String v = "";
        while (kv.next()) {
          if (kv.field() == 1) {
            k = kv.string();
          } else if (kv.field() == 2) {
            v = kv.string();
          } else {
            kv.skip();
          }
        }
        meta.put(k, v);
      } else {
        model.skip();
      }
    }
    if (!sawGraph) {
      throw new IOException(path + ": no graph in this file; is it an ONNX model?");
    }
    return new Contents(inits, external, nodes, meta);
  }

  private static Node readNode(Protobuf.Reader r) throws IOException {
    List<String> in = new ArrayList<>();
    List<String> out = new ArrayList<>();
    String op = "";
    while (r.next()) {
      if (r.field() == 1) {
        in.add(r.string());
      } else if (r.field() == 2) {
        out.add(r.string());
      } else if (r.field() == 4) {
        op = r.string();
      } else {
        r.skip();
      }
    }
    return new Node(op, in, out);
  }

  private static void readTensor(
      Protobuf.Reader r, Path path, Map<String, Tensor> inits, List<String> external)
      throws IOException {
    List<Long> dims = new ArrayList<>();
    int type = 0;
    String name = "";
    int[] raw = null;
    List<Float> floats = new ArrayList<>();
    List<Long> longs = new ArrayList<>();
    boolean isExternal = false;
    while (r.next()) {
      switch (r.field()) {
        case 1:
          readInt64s(r, "dims", dims);
          break;
        case 2:
          type = (int) r.varint();
          break;
        case 8:
          name = r.string();
          break;
        case 9:
          raw = r.span();
          break;
        case 4:
          if (r.wire() == Protobuf.LEN) {
            int[] s = r.span();
            ByteBuffer b =
                ByteBuffer.wrap(r.buffer(), s[0], s[1] - s[0]).order(ByteOrder.LITTLE_ENDIAN);
            while (b.remaining() >= 4) {
              floats.add(b.getFloat());
            }
          } else {
            r.skip();
          }
          break;
        case 7:
          readInt64s(r, "int64_data", longs);
          break;
        case 14:
          isExternal = r.varint() == 1;
          break;
        default:
          r.skip();
      }
    }
    if (isExternal) {
      external.add(name);
      return;
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    String where = path + ": initializer " + name;
    Tensor.DType dtype;
    try {
      dtype = Tensor.DType.ofOnnx(type);
    } catch (IllegalArgumentException e) {
      return; // other dtypes (bool, fp16 constants) are not weights the artifacts code uses
    }
    long n;
    try {
      n = Tensor.numel(shape);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new IOException(where + ": invalid dims " + dims, e);
    }
    if (raw != null) {
      int len = raw[1] - raw[0];
      if (len != n * dtype.size) {
        throw new IOException(
            where + ": raw_data has " + len + " bytes, dims " + dims + " need " + n * dtype.size);
      }
      ByteBuffer b = ByteBuffer.wrap(r.buffer(), raw[0], len).order(ByteOrder.LITTLE_ENDIAN);
      switch (dtype) {
        case F32:
          {
            float[] v = new float[(int) n];
            b.asFloatBuffer().get(v);
            inits.put(name, Tensor.ofFloats(shape, v));
            return;
          }
        case I64:
          {
            long[] v = new long[(int) n];
            b.asLongBuffer().get(v);
            inits.put(name, Tensor.ofLongs(shape, v));
            return;
          }
        default:
          {
            int[] v = new int[(int) n];
            b.asIntBuffer().get(v);
            inits.put(name, Tensor.ofInts(shape, v));
            return;
          }
      }
    }
    if (dtype == Tensor.DType.F32 && floats.size() == n) {
      float[] v = new float[(int) n];
      for (int i = 0; i < n; i++) {
        v[i] = floats.get(i);
      }
      inits.put(name, Tensor.ofFloats(shape, v));
    } else if (dtype == Tensor.DType.I64 && longs.size() == n) {
      inits.put(name, Tensor.ofLongs(shape, longs.stream().mapToLong(Long::longValue).toArray()));
    } else if (n > 0) {
      throw new IOException(where + ": holds no data for dims " + dims);
    }
  }

  /** A repeated int64 field, packed (one LEN field) or not (one varint per field). */
  private static void readInt64s(Protobuf.Reader r, String what, List<Long> into)
      throws IOException {
    if (r.wire() == Protobuf.LEN) {
      Protobuf.Reader p = r.message(what);
      while (p.remaining() > 0) {
        into.add(p.varint());
      }
    } else {
      into.add(r.varint());
    }
  }
}
