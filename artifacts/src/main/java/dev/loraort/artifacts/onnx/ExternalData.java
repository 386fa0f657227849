package dev.loraort.artifacts.onnx;

import com.google.protobuf.UnsafeByteOperations;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * An initializer's external data (onnx/docs/ExternalData.md), memory-mapped rather than copied: the
 * location is taken relative to the model's directory and must stay inside it, the region must lie
 * inside the file (a missing length means to its end, as ONNX reads it).
 */
public final class ExternalData {
  private ExternalData() {}

  /**
   * @param model the model file the tensor belongs to
   * @param t the tensor as the model stores it
   * @param expected the byte length its dims and type need, or -1 when the caller does not know it
   *     (a missing length then means to the end of the file)
   * @return the tensor with raw_data aliasing the mapped region, or {@code t} if it holds its data
   * @throws IOException naming the model and the initializer, if the file is missing, outside the
   *     model's directory, too short for the region, or the region's length is not the expected
   */
  public static TensorProto resolve(Path model, TensorProto t, long expected) throws IOException {
    if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
      return t;
    }
    String where = model + ": initializer " + t.getName();
    Map<String, String> kv = new HashMap<>();
    t.getExternalDataList().forEach(e -> kv.put(e.getKey(), e.getValue()));
    Path dir = model.toAbsolutePath().getParent();
    String location = kv.get("location");
    if (location == null) {
      throw new IOException(where + ": external data without a location");
    }
    Path f = dir.resolve(location).normalize();
    if (!f.startsWith(dir)) {
      throw new IOException(where + ": external data location " + location + " leaves " + dir);
    }
    long offset;
    long length;
    try {
      offset = Long.parseLong(kv.getOrDefault("offset", "0"));
      length = Long.parseLong(kv.getOrDefault("length", Long.toString(expected)));
    } catch (NumberFormatException e) {
      throw new IOException(where + ": external data offset/length not a number: " + kv, e);
    }
    if (expected >= 0 && length != expected) {
      throw new IOException(
          where
              + ": external data length "
              + length
              + ", dims "
              + t.getDimsList()
              + " need "
              + expected);
    }
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      if (length < 0) {
        length = ch.size() - offset;
      }
      if (offset < 0 || length < 0 || length > Integer.MAX_VALUE || offset + length > ch.size()) {
        throw new IOException(
            where
                + ": external data ["
                + offset
                + ", "
                + (offset + length)
                + ") runs past the end of "
                + f
                + " ("
                + ch.size()
                + " bytes; truncated?)");
      }
      MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, offset, length); // outlives ch
      return t.toBuilder()
          .clearExternalData()
          .clearDataLocation()
          .setRawData(UnsafeByteOperations.unsafeWrap(b))
          .build();
    } catch (NoSuchFileException e) {
      throw new IOException(where + ": external data file " + f + " not found", e);
    }
  }
}
