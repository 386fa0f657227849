package dev.loraort.builder.ir;

import com.google.protobuf.ByteString;
import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto.AttributeType;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;

/** Attribute values for new nodes. */
public final class Attr {
  private Attr() {}

  /**
   * @param name attribute name
   * @param v value
   * @return an INT attribute
   */
  public static AttributeProto i(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(v).build();
  }

  /**
   * @param name attribute name
   * @param v value
   * @return a FLOAT attribute
   */
  public static AttributeProto f(String name, float v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOAT).setF(v).build();
  }

  /**
   * @param name attribute name
   * @param v value
   * @return a STRING attribute
   */
  public static AttributeProto s(String name, String v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(v))
        .build();
  }

  /**
   * @param name attribute name
   * @param v values
   * @return an INTS attribute
   */
  public static AttributeProto ints(String name, long... v) {
    AttributeProto.Builder b =
        AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
    for (long x : v) {
      b.addInts(x);
    }
    return b.build();
  }

  /**
   * @param name attribute name
   * @param t value
   * @return a TENSOR attribute
   */
  public static AttributeProto t(String name, TensorProto t) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.TENSOR).setT(t).build();
  }
}
