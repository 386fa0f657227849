package dev.loraort.trainer.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An IDX file of unsigned bytes (the MNIST / Fashion-MNIST format), raw or gzipped: a big-endian
 * magic {@code 0x00 0x00 0x08 ndim}, ndim big-endian sizes, then the values in row-major order.
 *
 * @param file where it was read from (for messages)
 * @param dims the sizes, first the number of items
 * @param values the values, 0-255 as unsigned bytes
 */
public record IdxFile(Path file, int[] dims, byte[] values) {
  private static final int UNSIGNED_BYTE = 0x08;

  /**
   * @param file a file
   * @return true if it starts with an IDX magic of unsigned bytes (after gunzip if gzipped)
   * @throws IOException if it cannot be read
   */
  public static boolean isIdx(Path file) throws IOException {
    try (InputStream in = open(file)) {
      byte[] magic = in.readNBytes(4);
      return magic.length == 4
          && magic[0] == 0
          && magic[1] == 0
          && magic[2] == UNSIGNED_BYTE
          && magic[3] >= 1
          && magic[3] <= 4;
    } catch (java.util.zip.ZipException e) {
      return false;
    }
  }

  /**
   * @param file the file
   * @return its contents
   * @throws IOException if it is not an IDX file of unsigned bytes or is cut short; the message
   *     names the file
   */
  public static IdxFile read(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(open(file))) {
      int magic = in.readInt();
      if ((magic >>> 8) != UNSIGNED_BYTE || (magic & 0xFF) < 1 || (magic & 0xFF) > 4) {
        throw new IOException(
            file
                + ": not an IDX file of unsigned bytes (magic 0x"
                + Integer.toHexString(magic)
                + ")");
      }
      int[] dims = new int[magic & 0xFF];
      long n = 1;
      for (int i = 0; i < dims.length; i++) {
        dims[i] = in.readInt();
        if (dims[i] < 0) {
          throw new IOException(file + ": negative size " + dims[i] + " in dimension " + i);
        }
        n *= dims[i];
      }
      if (n > Integer.MAX_VALUE - 8) {
        throw new IOException(file + ": " + n + " values are more than one array holds");
      }
      byte[] values = in.readNBytes((int) n);
      if (values.length != n) {
        throw new IOException(
            file
                + ": cut short, "
                + values.length
                + " of "
                + n
                + " values for sizes "
                + Arrays.toString(dims));
      }
      return new IdxFile(file, dims, values);
    } catch (EOFException e) {
      throw new IOException(file + ": cut short inside its header", e);
    }
  }

  /**
   * @return the number of items (the first size)
   */
  public int items() {
    return dims[0];
  }

  /**
   * @return values per item (the product of the other sizes)
   */
  public int itemSize() {
    int s = 1;
    for (int i = 1; i < dims.length; i++) {
      s *= dims[i];
    }
    return s;
  }

  private static InputStream open(Path file) throws IOException {
    InputStream raw = new BufferedInputStream(Files.newInputStream(file));
    raw.mark(2);
    int b0 = raw.read();
    int b1 = raw.read();
    raw.reset();
    return b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
  }
}
