package dev.loraort.artifacts.protobuf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The protobuf wire format, as far as ONNX files and TensorBoard event files need it (no generated
 * classes: the few messages are written and read field by field).
 */
public final class Protobuf {
  /** Wire type of varints. */
  public static final int VARINT = 0;

  /** Wire type of 8-byte values. */
  public static final int FIXED64 = 1;

  /** Wire type of length-delimited values. */
  public static final int LEN = 2;

  /** Wire type of 4-byte values. */
  public static final int FIXED32 = 5;

  private Protobuf() {}

  /** Appends fields to a growing buffer. */
  public static final class Writer {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public Writer varint(int field, long v) {
      tag(field, VARINT);
      raw(v);
      return this;
    }

    public Writer bytes(int field, byte[] b) {
      tag(field, LEN);
      raw(b.length);
      out.write(b, 0, b.length);
      return this;
    }

    public Writer fixed32(int field, int v) {
      tag(field, FIXED32);
      for (int i = 0; i < 4; i++) {
        out.write(v >>> (8 * i));
      }
      return this;
    }

    public Writer fixed64(int field, long v) {
      tag(field, FIXED64);
      for (int i = 0; i < 8; i++) {
        out.write((int) (v >>> (8 * i)));
      }
      return this;
    }

    public Writer string(int field, String s) {
      return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    public Writer message(int field, Writer m) {
      return bytes(field, m.toByteArray());
    }

    /** Appends an already encoded field (tag included) unchanged. */
    public Writer raw(byte[] field) {
      out.write(field, 0, field.length);
      return this;
    }

    public byte[] toByteArray() {
      return out.toByteArray();
    }

    private void tag(int field, int wire) {
      raw(((long) field << 3) | wire);
    }

    private void raw(long v) {
      while ((v & ~0x7FL) != 0) {
        out.write((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      out.write((int) v);
    }
  }

  /** Reads fields of one message within [start, end) of a byte array. */
  public static final class Reader {
    private final byte[] buf;
    private final String what;
    private int pos;
    private final int end;
    private int field;
    private int wire;
    private int fieldStart;

    public Reader(byte[] buf, int start, int end, String what) {
      this.buf = buf;
      this.pos = start;
      this.end = end;
      this.what = what;
    }

    /** The current field's number. */
    public int field() {
      return field;
    }

    /** The current field's wire type. */
    public int wire() {
      return wire;
    }

    /** Advances to the next field; false at the end of the message. */
    public boolean next() throws IOException {
      if (pos >= end) {
        return false;
      }
      fieldStart = pos;
      long tag = varint();
      field = (int) (tag >>> 3);
      wire = (int) (tag & 7);
      return true;
    }

    public long varint() throws IOException {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= end) {
          throw new IOException(what + ": truncated varint");
        }
        byte b = buf[pos++];
        v |= (long) (b & 0x7F) << shift;
        if (b >= 0) {
          return v;
        }
      }
      throw new IOException(what + ": malformed varint");
    }

    /** The current length-delimited field as [start, end) into the buffer. */
    public int[] span() throws IOException {
      long n = varint();
      if (n < 0 || pos + n > end) {
        throw new IOException(
            what + ": field " + field + " runs past the end (" + n + " bytes; file truncated?)");
      }
      int[] s = {pos, pos + (int) n};
      pos += (int) n;
      return s;
    }

    public String string() throws IOException {
      int[] s = span();
      return new String(buf, s[0], s[1] - s[0], StandardCharsets.UTF_8);
    }

    public Reader message(String child) throws IOException {
      int[] s = span();
      return new Reader(buf, s[0], s[1], what + "/" + child);
    }

    public void skip() throws IOException {
      switch (wire) {
        case VARINT:
          varint();
          break;
        case FIXED64:
          pos += 8;
          break;
        case LEN:
          span();
          break;
        case FIXED32:
          pos += 4;
          break;
        default:
          throw new IOException(what + ": unknown wire type " + wire + " at field " + field);
      }
      if (pos > end) {
        throw new IOException(what + ": truncated");
      }
    }

    public byte[] buffer() {
      return buf;
    }

    public int remaining() {
      return end - pos;
    }

    /** The current field, tag included, after it was read or skipped. */
    public byte[] rawField() {
      return java.util.Arrays.copyOfRange(buf, fieldStart, pos);
    }
  }
}
