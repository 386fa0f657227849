package dev.loraort.artifacts.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes safetensors files: an 8-byte little-endian header length, a JSON header ({@code
 * name -> {dtype, shape, data_offsets}} plus {@code __metadata__}), then the data.
 *
 * <p>Reading validates everything a corrupt or hostile file could get wrong (header size, dtypes,
 * shapes, offsets in range, matching lengths, no overlaps) and names the file and tensor.
 */
public final class Safetensors {
  /** The safetensors limit on the header (100 MB). */
  public static final long MAX_HEADER_BYTES = 100L << 20;

  private static final String METADATA = "__metadata__";

  /**
   * A file's tensors, in header order, and its string metadata.
   *
   * @param tensors tensors by name
   * @param metadata the {@code __metadata__} map (empty if absent)
   */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
    /** Copies both maps, keeping order. */
    public Contents {
      tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
      metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
  }

  private Safetensors() {}

  /**
   * Reads a safetensors file (F32, I64 and I32 tensors).
   *
   * @param path the file
   * @return its contents
   * @throws IOException if the file cannot be read or is not valid safetensors; the message names
   *     the file and the offending tensor
   */
  public static Contents read(Path path) throws IOException {
    ByteBuffer all;
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) {
        throw new IOException(
            path + ": not a safetensors file (" + size + " bytes, need at least 8)");
      }
      if (size > Integer.MAX_VALUE) {
        throw new IOException(path + ": " + size + " bytes; files over 2 GiB are not supported");
      }
      all = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
      while (all.hasRemaining() && ch.read(all) >= 0) {
        // read fully
      }
      all.flip();
    }
    long headerLen = all.getLong(0);
    if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || headerLen > all.limit() - 8L) {
      throw new IOException(
          path
              + ": header length "
              + headerLen
              + " is invalid (file has "
              + all.limit()
              + " bytes, cap "
              + MAX_HEADER_BYTES
              + ")");
    }
    String json = StandardCharsets.UTF_8.decode(all.slice(8, (int) headerLen)).toString();
    JsonObject header;
    try {
      header = JsonParser.parseString(json).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new IOException(path + ": header is not a JSON object: " + e.getMessage(), e);
    }
    int dataStart = 8 + (int) headerLen;
    long dataLen = all.limit() - (long) dataStart;
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    List<long[]> ranges = new ArrayList<>();
    for (Map.Entry<String, JsonElement> e : header.entrySet()) {
      String name = e.getKey();
      if (name.equals(METADATA)) {
        try {
          for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
            metadata.put(m.getKey(), m.getValue().getAsString());
          }
        } catch (IllegalStateException | UnsupportedOperationException x) {
          throw new IOException(
              path + ": " + METADATA + " must map names to strings: " + e.getValue(), x);
        }
        continue;
      }
      tensors.put(name, readTensor(path, name, e.getValue(), all, dataStart, dataLen, ranges));
    }
    ranges.sort((a, b) -> Long.compare(a[0], b[0]));
    for (int i = 1; i < ranges.size(); i++) {
      if (ranges.get(i)[0] < ranges.get(i - 1)[1]) {
        throw new IOException(
            path + ": tensors overlap in the data buffer at byte " + ranges.get(i)[0]);
      }
    }
    return new Contents(tensors, metadata);
  }

  private static Tensor readTensor(
      Path path,
      String name,
      JsonElement el,
      ByteBuffer all,
      int dataStart,
      long dataLen,
      List<long[]> ranges)
      throws IOException {
    String where = path + ": tensor " + name;
    try {
      JsonObject o = el.getAsJsonObject();
      String dt = o.get("dtype").getAsString();
      Tensor.DType dtype;
      try {
        dtype = Tensor.DType.valueOf(dt);
      } catch (IllegalArgumentException x) {
        throw new IOException(
            where + " has dtype " + dt + "; supported: " + Arrays.toString(Tensor.DType.values()));
      }
      JsonArray sh = o.get("shape").getAsJsonArray();
      long[] shape = new long[sh.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = sh.get(i).getAsLong();
        if (shape[i] < 0) {
          throw new IOException(where + " has a negative dimension in shape " + sh);
        }
      }
      JsonArray off = o.get("data_offsets").getAsJsonArray();
      long begin = off.get(0).getAsLong();
      long end = off.get(1).getAsLong();
      long want = Tensor.numel(shape) * dtype.size;
      if (begin < 0 || end < begin || end > dataLen) {
        throw new IOException(
            where
                + " has data_offsets ["
                + begin
                + ", "
                + end
                + "] outside the "
                + dataLen
                + "-byte data buffer (file truncated?)");
      }
      if (end - begin != want) {
        throw new IOException(
            where
                + ": data_offsets span "
                + (end - begin)
                + " bytes, shape "
                + sh
                + " of "
                + dt
                + " needs "
                + want);
      }
      ranges.add(new long[] {begin, end});
      ByteBuffer b = all.slice(dataStart + (int) begin, (int) want).order(ByteOrder.LITTLE_ENDIAN);
      int n = (int) Tensor.numel(shape);
      switch (dtype) {
        case F32:
          {
            float[] v = new float[n];
            b.asFloatBuffer().get(v);
            return Tensor.ofFloats(shape, v);
          }
        case I64:
          {
            long[] v = new long[n];
            b.asLongBuffer().get(v);
            return Tensor.ofLongs(shape, v);
          }
        default:
          {
            int[] v = new int[n];
            b.asIntBuffer().get(v);
            return Tensor.ofInts(shape, v);
          }
      }
    } catch (NullPointerException
        | IllegalStateException
        | IllegalArgumentException // a number that does not parse, a negative dim
        | UnsupportedOperationException
        | IndexOutOfBoundsException
        | ArithmeticException e) {
      throw new IOException(where + " has a malformed header entry: " + el, e);
    }
  }

  /**
   * Writes tensors atomically (temporary file + rename): an existing file is replaced only once the
   * new one is complete.
   *
   * @param path the target
   * @param tensors tensors in the order to write
   * @param metadata string metadata for {@code __metadata__} (may be empty)
   * @throws IOException if writing fails
   */
  public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    JsonObject header = new JsonObject();
    if (!metadata.isEmpty()) {
      JsonObject m = new JsonObject();
      metadata.forEach(m::addProperty);
      header.add(METADATA, m);
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      Tensor t = e.getValue();
      JsonObject o = new JsonObject();
      o.addProperty("dtype", t.dtype().name());
      JsonArray shape = new JsonArray();
      for (long d : t.shape()) {
        shape.add(d);
      }
      o.add("shape", shape);
      long n = (long) t.size() * t.dtype().size;
      JsonArray off = new JsonArray();
      off.add(offset);
      off.add(offset + n);
      o.add("data_offsets", off);
      header.add(e.getKey(), o);
      offset += n;
    }
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8; // the reference writer aligns the data to 8 bytes
    byte[] head = Arrays.copyOf(json, padded);
    Arrays.fill(head, json.length, padded, (byte) ' ');
    AtomicFiles.write(
        path,
        out -> {
          ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
          out.write(len.array());
          out.write(head);
          for (Tensor t : tensors.values()) {
            out.write(toBytes(t));
          }
        });
  }

  /**
   * Little-endian bytes of a tensor's data.
   *
   * @param t the tensor
   * @return its raw data
   */
  public static byte[] toBytes(Tensor t) {
    ByteBuffer b = ByteBuffer.allocate(t.size() * t.dtype().size).order(ByteOrder.LITTLE_ENDIAN);
    switch (t.dtype()) {
      case F32:
        b.asFloatBuffer().put(t.floats());
        break;
      case I64:
        b.asLongBuffer().put(t.longs());
        break;
      default:
        b.asIntBuffer().put(t.ints());
    }
    return b.array();
  }
}
