package dev.loraort.artifacts.ortadapter;

import com.google.flatbuffers.FlatBufferBuilder;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.LoraPatterns;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads {@code .onnx_adapter} files (schema
 * onnxruntime/lora/adapter_format/adapter_schema.fbs): {@code Adapter {format_version,
 * adapter_version, model_version, parameters: [Parameter]}}, {@code Parameter {name, dims: [int64],
 * data_type, raw_data: [uint8] (8-aligned)}}.
 *
 * <p>The file holds every LoRA tensor and head under the contract names, with the scale s folded
 * into each B (as Olive's converter does): ONNX Runtime refuses 0-d adapter parameters, so {@code
 * lora_scale} cannot travel in the file. With the adapter active, feed the batch and {@code
 * lora_scale = 1} ({@link #FED_SCALE}), whatever r and alpha were, per module too: each B carries
 * its own module's s (rank_pattern / alpha_pattern). Modules of different ranks are written at the
 * widest, zero-padded (B A unchanged): ONNX Runtime plans memory as if inputs that share the dim
 * lora_r had one rank, and can fail on an adapter whose ranks differ.
 */
public final class OrtAdapterFile {
  /** The only format version ONNX Runtime accepts. */
  public static final int FORMAT_VERSION = 1;

  /** The lora_scale to feed alongside an adapter written here. */
  public static final float FED_SCALE = 1f;

  private static final String IDENTIFIER = "TORT";
  private static final String A = ".lora_A.weight";
  private static final String B = ".lora_B.weight";

  private OrtAdapterFile() {}

  /**
   * @param path the file (written atomically)
   * @param a the adapter
   * @param adapterVersion the file's adapter_version
   * @throws IOException if writing fails
   */
  public static void write(Path path, AdapterWeights a, int adapterVersion) throws IOException {
    // each module's own s in its B, and every module at the widest rank (zero rows of A, zero
    // columns of B): ONNX Runtime's memory planner takes inputs sharing lora_r to have one rank
    int width = 0;
    for (Map.Entry<String, Tensor> e : a.tensors().entrySet()) {
      if (e.getKey().endsWith(A)) {
        width = Math.max(width, (int) e.getValue().shape()[0]);
      }
    }
    Map<String, Tensor> params = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : a.tensors().entrySet()) {
      String k = e.getKey();
      Tensor v = e.getValue();
      if (k.endsWith(A)) {
        long in = v.shape()[1];
        v = Tensor.ofFloats(new long[] {width, in}, Arrays.copyOf(v.floats(), (int) (width * in)));
      } else if (k.endsWith(B)) {
        v = widened(v, width, a.scale(k.substring(0, k.length() - B.length())));
      }
      params.put(k, v);
    }
    FlatBufferBuilder b = new FlatBufferBuilder(1024);
    List<Integer> offsets = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : params.entrySet()) {
      Tensor t = e.getValue();
      byte[] data = Safetensors.toBytes(t);
      b.startVector(1, data.length, 8); // raw_data is force_align: 8
      for (int i = data.length - 1; i >= 0; i--) {
        b.addByte(data[i]);
      }
      int raw = b.endVector();
      long[] shape = t.shape();
      b.startVector(8, shape.length, 8);
      for (int i = shape.length - 1; i >= 0; i--) {
        b.addLong(shape[i]);
      }
      int dims = b.endVector();
      int name = b.createString(e.getKey());
      b.startTable(4);
      b.addOffset(0, name, 0);
      b.addOffset(1, dims, 0);
      b.addInt(2, t.dtype().onnxCode, 0);
      b.addOffset(3, raw, 0);
      offsets.add(b.endTable());
    }
    b.startVector(4, offsets.size(), 4);
    for (int i = offsets.size() - 1; i >= 0; i--) {
      b.addOffset(offsets.get(i));
    }
    int vec = b.endVector();
    b.startTable(4);
    b.addInt(0, FORMAT_VERSION, 0);
    b.addInt(1, adapterVersion, 0);
    b.addInt(2, 0, 0);
    b.addOffset(3, vec, 0);
    b.finish(b.endTable(), IDENTIFIER);
    byte[] bytes = b.sizedByteArray();
    AtomicFiles.write(path, out -> out.write(bytes));
  }

  /** s B, with zero columns up to {@code width}. */
  private static Tensor widened(Tensor t, int width, float s) {
    int out = (int) t.shape()[0];
    int r = (int) t.shape()[1];
    float[] v = t.floats();
    float[] w = new float[out * width];
    for (int i = 0; i < out; i++) {
      for (int k = 0; k < r; k++) {
        w[i * width + k] = v[i * r + k] * s;
      }
    }
    return Tensor.ofFloats(new long[] {out, width}, w);
  }

  /**
   * Reads an adapter file.
   *
   * @param path the file
   * @return the adapter, with scale 1 for every module (s is folded into B) and alpha = rank; the
   *     rank comes from the first A tensor, a module whose A has another gets it through an
   *     exact-name rank_pattern (and alpha_pattern) key
   * @throws IOException if the file is not a valid format-1 adapter; the message names the file and
   *     the parameter
   */
  public static AdapterWeights read(Path path) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
    try {
      String ident = new String(bb.array(), 4, 4, StandardCharsets.US_ASCII);
      if (bb.limit() < 8 || !ident.equals(IDENTIFIER)) {
        throw new IOException(
            path + ": not an ONNX Runtime adapter (identifier '" + ident + "', expected TORT)");
      }
      int root = bb.getInt(0);
      int version = scalarInt(bb, root, 0);
      if (version != FORMAT_VERSION) {
        throw new IOException(
            path + ": format_version " + version + "; ONNX Runtime reads only " + FORMAT_VERSION);
      }
      int vec = indirect(bb, root, 3);
      if (vec < 0) {
        throw new IOException(path + ": no parameters");
      }
      int n = count(path, "parameters", bb, vec, 4);
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        int at = vec + 4 + 4 * i;
        int p = at + bb.getInt(at);
        String name = string(bb, indirect(bb, p, 0));
        int dimsAt = indirect(bb, p, 1);
        long[] dims = new long[dimsAt < 0 ? 0 : count(path, name + " dims", bb, dimsAt, 8)];
        for (int d = 0; d < dims.length; d++) {
          dims[d] = bb.getLong(dimsAt + 4 + 8 * d);
        }
        int type = scalarInt(bb, p, 2);
        int rawAt = indirect(bb, p, 3);
        int len = rawAt < 0 ? 0 : bb.getInt(rawAt);
        Tensor.DType dt;
        try {
          dt = Tensor.DType.ofOnnx(type);
        } catch (IllegalArgumentException e) {
          throw new IOException(path + ": parameter " + name + ": " + e.getMessage(), e);
        }
        long want = Math.multiplyExact(Tensor.numel(dims), (long) dt.size);
        if (len != want || rawAt + 4L + len > bb.limit()) {
          throw new IOException(
              path
                  + ": parameter "
                  + name
                  + " has "
                  + len
                  + " data bytes; dims "
                  + java.util.Arrays.toString(dims)
                  + " need "
                  + want);
        }
        ByteBuffer data = bb.slice(rawAt + 4, len).order(ByteOrder.LITTLE_ENDIAN);
        if (dt != Tensor.DType.F32) {
          throw new IOException(
              path + ": parameter " + name + " is " + dt + "; adapters hold float32");
        }
        float[] v = new float[(int) Tensor.numel(dims)];
        data.asFloatBuffer().get(v);
        tensors.put(name, Tensor.ofFloats(dims, v));
      }
      // every module's scale is 1 (alpha = r); a module whose A has another rank than the first
      // (a file another tool wrote: ours are padded to one rank) gets it, and the same alpha,
      // under an exact-name key
      Map<String, Integer> ranks = new LinkedHashMap<>();
      Map<String, Double> alphas = new LinkedHashMap<>();
      int rank = -1;
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        if (e.getKey().endsWith(A)) {
          int r = (int) e.getValue().shape()[0];
          rank = rank < 0 ? r : rank;
          if (r != rank) {
            String key =
                LoraPatterns.exact(e.getKey().substring(0, e.getKey().length() - A.length()));
            ranks.put(key, r);
            alphas.put(key, r * (double) FED_SCALE);
          }
        }
      }
      if (rank < 0) {
        throw new IOException(path + ": no lora_A tensor");
      }
      return new AdapterWeights(
          tensors,
          rank,
          rank * FED_SCALE,
          FED_SCALE,
          false,
          new LoraPatterns(ranks, alphas),
          Map.of());
    } catch (IndexOutOfBoundsException | IllegalArgumentException | ArithmeticException e) {
      // offsets outside the file, negative or overflowing dims
      throw new IOException(path + ": truncated or corrupt flatbuffer (" + e.getMessage() + ")", e);
    }
  }

  /**
   * A vector's length, checked against the bytes left in the file before anything is sized by it.
   */
  private static int count(Path path, String what, ByteBuffer bb, int at, int elementBytes)
      throws IOException {
    int n = bb.getInt(at);
    if (n < 0 || n > (bb.limit() - at - 4L) / elementBytes) {
      throw new IOException(
          path
              + ": "
              + what
              + " vector claims "
              + n
              + " entries; the file holds at most "
              + Math.max(0, (bb.limit() - at - 4L) / elementBytes));
    }
    return n;
  }

  private static int fieldOffset(ByteBuffer bb, int table, int field) {
    int vtable = table - bb.getInt(table);
    int vtLen = bb.getShort(vtable);
    int slot = 4 + 2 * field;
    return slot < vtLen ? bb.getShort(vtable + slot) : 0;
  }

  private static int scalarInt(ByteBuffer bb, int table, int field) {
    int o = fieldOffset(bb, table, field);
    return o == 0 ? 0 : bb.getInt(table + o);
  }

  /** The target of an offset field (a vector, string or table), or -1 if absent. */
  private static int indirect(ByteBuffer bb, int table, int field) {
    int o = fieldOffset(bb, table, field);
    if (o == 0) {
      return -1;
    }
    int at = table + o;
    return at + bb.getInt(at);
  }

  private static String string(ByteBuffer bb, int at) {
    int len = bb.getInt(at);
    return new String(bb.array(), at + 4, len, StandardCharsets.UTF_8);
  }
}
