package dev.loraort.builder.ir;

import com.google.protobuf.ByteString;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.BuildException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Values of ONNX tensors: sizes, raw bytes, small constants read and made. */
public final class Tensors {
  private Tensors() {}

  /**
   * @param dataType an ONNX element type
   * @return bytes per element
   * @throws BuildException for types without a fixed byte size (string, 4-bit)
   */
  public static int elemSize(int dataType) {
    switch (dataType) {
      case DataType.FLOAT_VALUE:
      case DataType.INT32_VALUE:
      case DataType.UINT32_VALUE:
        return 4;
      case DataType.DOUBLE_VALUE:
      case DataType.INT64_VALUE:
      case DataType.UINT64_VALUE:
      case DataType.COMPLEX64_VALUE:
        return 8;
      case DataType.FLOAT16_VALUE:
      case DataType.BFLOAT16_VALUE:
      case DataType.INT16_VALUE:
      case DataType.UINT16_VALUE:
        return 2;
      case DataType.INT8_VALUE:
      case DataType.UINT8_VALUE:
      case DataType.BOOL_VALUE:
      case DataType.FLOAT8E4M3FN_VALUE:
      case DataType.FLOAT8E4M3FNUZ_VALUE:
      case DataType.FLOAT8E5M2_VALUE:
      case DataType.FLOAT8E5M2FNUZ_VALUE:
        return 1;
      case DataType.COMPLEX128_VALUE:
        return 16;
      default:
        throw new BuildException("tensors of ONNX data type " + dataType + " are not supported");
    }
  }

  /**
   * @param dataType an ONNX element type
   * @return true for float, double, float16 and bfloat16
   */
  public static boolean isFloat(int dataType) {
    return dataType == DataType.FLOAT_VALUE
        || dataType == DataType.DOUBLE_VALUE
        || dataType == DataType.FLOAT16_VALUE
        || dataType == DataType.BFLOAT16_VALUE;
  }

  /**
   * @param t a tensor
   * @return its dims
   */
  public static long[] dims(TensorProto t) {
    return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * @param t a tensor
   * @return its element count
   * @throws BuildException if a dim is negative or the count overflows
   */
  public static long numel(TensorProto t) {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d < 0) {
        throw new BuildException(
            "tensor " + t.getName() + " has a negative dim " + t.getDimsList());
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /**
   * The tensor's bytes in raw_data encoding (little-endian, C order), from whichever field holds
   * them. External data must have been resolved ({@link OnnxModels#read}).
   *
   * @param t a tensor with its data
   * @return the bytes
   */
  public static ByteString raw(TensorProto t) {
    if (t.hasRawData()) {
      return t.getRawData();
    }
    int dt = t.getDataType();
    long n = numel(t);
    ByteBuffer b =
        ByteBuffer.allocate(Math.toIntExact(n * elemSize(dt))).order(ByteOrder.LITTLE_ENDIAN);
    switch (dt) {
      case DataType.FLOAT_VALUE:
        t.getFloatDataList().forEach(b::putFloat);
        break;
      case DataType.DOUBLE_VALUE:
        t.getDoubleDataList().forEach(b::putDouble);
        break;
      case DataType.INT64_VALUE:
        t.getInt64DataList().forEach(b::putLong);
        break;
      case DataType.UINT64_VALUE:
      case DataType.UINT32_VALUE:
        for (long v : t.getUint64DataList()) {
          if (dt == DataType.UINT32_VALUE) {
            b.putInt((int) v);
          } else {
            b.putLong(v);
          }
        }
        break;
      case DataType.INT32_VALUE:
        t.getInt32DataList().forEach(b::putInt);
        break;
      case DataType.INT16_VALUE:
      case DataType.UINT16_VALUE:
      case DataType.FLOAT16_VALUE:
      case DataType.BFLOAT16_VALUE:
        t.getInt32DataList().forEach(v -> b.putShort((short) (int) v));
        break;
      case DataType.INT8_VALUE:
      case DataType.UINT8_VALUE:
      case DataType.BOOL_VALUE:
        t.getInt32DataList().forEach(v -> b.put((byte) (int) v));
        break;
      default:
        throw new BuildException("tensor " + t.getName() + ": data type " + dt + " not supported");
    }
    if (b.position() != b.capacity()) {
      throw new BuildException(
          "tensor "
              + t.getName()
              + " holds "
              + b.position()
              + " bytes of data; its dims "
              + t.getDimsList()
              + " need "
              + b.capacity());
    }
    return ByteString.copyFrom(b.array());
  }

  /**
   * @param t an integer tensor (int64, int32, or bool) of at most 2^31 elements
   * @return its values
   */
  public static long[] longs(TensorProto t) {
    ByteBuffer b = raw(t).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    int n = Math.toIntExact(numel(t));
    long[] v = new long[n];
    for (int i = 0; i < n; i++) {
      switch (t.getDataType()) {
        case DataType.INT64_VALUE:
        case DataType.UINT64_VALUE:
          v[i] = b.getLong();
          break;
        case DataType.INT32_VALUE:
          v[i] = b.getInt();
          break;
        case DataType.UINT32_VALUE:
          v[i] = Integer.toUnsignedLong(b.getInt());
          break;
        case DataType.INT16_VALUE:
          v[i] = b.getShort();
          break;
        case DataType.INT8_VALUE:
        case DataType.BOOL_VALUE:
          v[i] = b.get();
          break;
        case DataType.UINT8_VALUE:
          v[i] = b.get() & 0xFF;
          break;
        default:
          throw new BuildException(
              "tensor " + t.getName() + " is not an integer tensor (type " + t.getDataType() + ")");
      }
    }
    return v;
  }

  /**
   * @param t a float or double tensor (or integer: converted)
   * @return its values as doubles
   */
  public static double[] doubles(TensorProto t) {
    int n = Math.toIntExact(numel(t));
    double[] v = new double[n];
    if (t.getDataType() == DataType.FLOAT_VALUE) {
      ByteBuffer b = raw(t).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        v[i] = b.getFloat();
      }
    } else if (t.getDataType() == DataType.DOUBLE_VALUE) {
      ByteBuffer b = raw(t).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        v[i] = b.getDouble();
      }
    } else {
      long[] l = longs(t);
      for (int i = 0; i < n; i++) {
        v[i] = l[i];
      }
    }
    return v;
  }

  /**
   * @param name tensor name
   * @param dataType FLOAT, DOUBLE or INT64 (as ONNX numbers them)
   * @param v the value
   * @return a 0-d tensor
   */
  public static TensorProto scalar(String name, int dataType, double v) {
    ByteBuffer b = ByteBuffer.allocate(elemSize(dataType)).order(ByteOrder.LITTLE_ENDIAN);
    switch (dataType) {
      case DataType.FLOAT_VALUE:
        b.putFloat((float) v);
        break;
      case DataType.DOUBLE_VALUE:
        b.putDouble(v);
        break;
      case DataType.INT64_VALUE:
        b.putLong((long) v);
        break;
      default:
        throw new BuildException("no scalar constants of ONNX data type " + dataType);
    }
    return TensorProto.newBuilder()
        .setName(name)
        .setDataType(dataType)
        .setRawData(ByteString.copyFrom(b.array()))
        .build();
  }

  /**
   * @param name tensor name
   * @param dims its shape
   * @param v int64 values
   * @return the tensor
   */
  public static TensorProto int64s(String name, long[] dims, long... v) {
    ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (long x : v) {
      b.putLong(x);
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(DataType.INT64_VALUE)
            .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  /**
   * @param name tensor name
   * @param dims its shape
   * @param v float values
   * @return a float32 tensor
   */
  public static TensorProto floats(String name, long[] dims, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(DataType.FLOAT_VALUE)
            .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }
}
