package dev.loraort.trainer.loop;

import dev.loraort.artifacts.protobuf.Protobuf;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * A TensorBoard event file written by hand (no TensorFlow): TFRecords of Event protos, each record
 * {@code u64 length | u32 masked crc32c(length) | Event | u32 masked crc32c(Event)}; the first
 * event names the file version, the rest carry scalar summaries. Owns the stream; close it.
 */
final class TensorBoardEvents implements AutoCloseable {
  /** The start of an event file's name, as TensorBoard looks for it. */
  static final String PREFIX = "events.out.tfevents.";

  private final Path path;
  private final OutputStream out;

  /**
   * @param dir the run directory; the file is {@code events.out.tfevents.<seconds>.<host>}
   * @throws IOException if it cannot be created
   */
  TensorBoardEvents(Path dir) throws IOException {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "localhost";
    }
    Files.createDirectories(dir);
    this.path = dir.resolve(PREFIX + System.currentTimeMillis() / 1000 + "." + host);
    this.out = Files.newOutputStream(path);
    record(event(0).string(3, "brain.Event:2").toByteArray());
  }

  /**
   * @param step the step
   * @param tag e.g. train/loss
   * @param value the value
   */
  void scalar(long step, String tag, double value) {
    Protobuf.Writer summaryValue =
        new Protobuf.Writer().string(1, tag).fixed32(2, Float.floatToIntBits((float) value));
    record(event(step).message(5, new Protobuf.Writer().message(1, summaryValue)).toByteArray());
  }

  private static Protobuf.Writer event(long step) {
    return new Protobuf.Writer()
        .fixed64(1, Double.doubleToLongBits(System.currentTimeMillis() / 1000.0))
        .varint(2, step);
  }

  private void record(byte[] event) {
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, event.length);
    try {
      out.write(len.array());
      out.write(le32(masked(len.array())));
      out.write(event);
      out.write(le32(masked(event)));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": writing TensorBoard events failed", e);
    }
  }

  private static int masked(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    int crc = (int) c.getValue();
    return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
  }

  private static byte[] le32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, v).array();
  }

  /**
   * @return the event file
   */
  Path path() {
    return path;
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": closing failed", e);
    }
  }
}
