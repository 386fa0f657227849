package dev.loraort.builder.ir;

import com.google.protobuf.ByteString;
import dev.loraort.artifacts.onnx.proto.Onnx.StringStringEntryProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.builder.BuildException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One external-data file shared by every graph of a model directory: each large initializer is
 * written once, at a 4 KiB-aligned offset (so ONNX Runtime can map it), and every graph that uses
 * it points there. Close it to flush the file.
 */
public final class WeightsFile implements AutoCloseable {
  /** Initializers of this many bytes or more are stored in the file; smaller ones stay inline. */
  public static final int THRESHOLD = 1024;

  private static final int ALIGN = 4096;

  /**
   * Where one tensor lies.
   *
   * @param name initializer name
   * @param dataType ONNX element type
   * @param dims its shape
   * @param offset byte offset in the file
   * @param length byte length
   */
  public record Entry(String name, int dataType, List<Long> dims, long offset, long length) {
    /** Copies the dims. */
    public Entry {
      dims = List.copyOf(dims);
    }
  }

  private final Path file;
  private final FileChannel ch;
  private final Map<String, Entry> entries = new HashMap<>();
  private final List<Entry> order = new ArrayList<>();
  private long end;
  private boolean closed;

  /**
   * @param file the file to create (the graphs name it relative to their directory)
   * @throws BuildException if it cannot be created
   */
  public WeightsFile(Path file) {
    this.file = file;
    try {
      ch =
          FileChannel.open(
              file,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new BuildException(file + ": cannot create: " + e.getMessage(), e);
    }
  }

  /**
   * The tensor as a graph stores it: inline when small, else a reference into this file (its data
   * written on first use).
   *
   * @param t an initializer with its data
   * @return the tensor to put in the graph
   */
  public TensorProto place(TensorProto t) {
    ByteString raw = Tensors.raw(t);
    if (raw.size() < THRESHOLD) {
      return t;
    }
    Entry e = entries.get(t.getName());
    if (e == null) {
      e = append(t, raw);
    } else if (e.length() != raw.size() || !e.dims().equals(t.getDimsList())) {
      throw new BuildException(
          file + ": two different tensors named " + t.getName() + " in the graphs of one model");
    }
    return TensorProto.newBuilder()
        .setName(t.getName())
        .setDataType(t.getDataType())
        .addAllDims(t.getDimsList())
        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(kv("location", file.getFileName().toString()))
        .addExternalData(kv("offset", Long.toString(e.offset())))
        .addExternalData(kv("length", Long.toString(e.length())))
        .build();
  }

  private Entry append(TensorProto t, ByteString raw) {
    checkClosed();
    long offset = (end + ALIGN - 1) / ALIGN * ALIGN;
    try {
      long at = offset;
      for (ByteBuffer b : raw.asReadOnlyByteBufferList()) {
        while (b.hasRemaining()) {
          at += ch.write(b, at);
        }
      }
    } catch (IOException e) {
      throw new BuildException(file + ": cannot write " + t.getName() + ": " + e.getMessage(), e);
    }
    Entry e = new Entry(t.getName(), t.getDataType(), t.getDimsList(), offset, raw.size());
    entries.put(t.getName(), e);
    order.add(e);
    end = offset + raw.size();
    return e;
  }

  /**
   * @return the tensors written, in file order
   */
  public List<Entry> entries() {
    return List.copyOf(order);
  }

  /**
   * @return the file's path
   */
  public Path path() {
    return file;
  }

  private void checkClosed() {
    if (closed) {
      throw new IllegalStateException(file + " is closed");
    }
  }

  private static StringStringEntryProto kv(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  /** Forces the data to disk and closes the file; idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      ch.force(true);
      ch.close();
    } catch (IOException e) {
      throw new BuildException(file + ": cannot finish writing: " + e.getMessage(), e);
    }
  }
}
