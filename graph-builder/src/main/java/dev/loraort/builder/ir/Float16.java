package dev.loraort.builder.ir;

import dev.loraort.artifacts.onnx.proto.Onnx.AttributeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A float16 export (a GPU inference export, transformers.js's fp16 files) widened to float32: the
 * train graphs compute in float32 (bf16 graphs are written beside them), so each float16 weight is
 * widened once, exactly, and the casts, constants, inputs and outputs the export declares float16
 * become float32. The model trains on the float16 weights' values, as a float32 export of them.
 */
public final class Float16 {
  private static final int HALF = DataType.FLOAT16_VALUE;
  private static final int FLOAT = DataType.FLOAT_VALUE;

  private Float16() {}

  /**
   * Rewrites in place.
   *
   * @param g a normalized graph (Constant nodes already initializers)
   * @return how many weights, casts, constants, inputs and outputs were float16 (0: a float32
   *     export)
   */
  public static int widen(Graph g) {
    int n = 0;
    for (Map.Entry<String, TensorProto> e : new ArrayList<>(g.initializers().entrySet())) {
      if (e.getValue().getDataType() == HALF) {
        g.addInitializer(e.getKey(), widened(e.getKey(), e.getValue()));
        n++;
      }
    }
    for (int k = 0; k < g.nodes().size(); k++) {
      Node node = g.nodes().get(k);
      Map<String, AttributeProto> attrs = new LinkedHashMap<>(node.attrs());
      boolean changed = false;
      for (Map.Entry<String, AttributeProto> a : node.attrs().entrySet()) {
        AttributeProto v = a.getValue();
        if (a.getKey().equals("to") && v.getI() == HALF) { // Cast
          attrs.put(a.getKey(), v.toBuilder().setI(FLOAT).build());
          changed = true;
        } else if (v.hasT() && v.getT().getDataType() == HALF) { // ConstantOfShape's value
          attrs.put(a.getKey(), v.toBuilder().setT(widened(v.getT().getName(), v.getT())).build());
          changed = true;
        }
      }
      if (changed) {
        g.nodes()
            .set(
                k,
                new Node(
                    node.op(),
                    node.domain(),
                    node.rawName(),
                    node.inputs(),
                    node.outputs(),
                    attrs));
        n++;
      }
    }
    n += widen(g.inputs()) + widen(g.outputs());
    return n;
  }

  private static int widen(List<ValueInfoProto> values) {
    int n = 0;
    for (int i = 0; i < values.size(); i++) {
      ValueInfoProto v = values.get(i);
      if (v.getType().hasTensorType() && v.getType().getTensorType().getElemType() == HALF) {
        ValueInfoProto.Builder b = v.toBuilder();
        b.getTypeBuilder().getTensorTypeBuilder().setElemType(FLOAT);
        values.set(i, b.build());
        n++;
      }
    }
    return n;
  }

  private static TensorProto widened(String name, TensorProto half) {
    ByteBuffer b = Tensors.raw(half).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    float[] f = new float[Math.toIntExact(Tensors.numel(half))];
    for (int i = 0; i < f.length; i++) {
      f[i] = toFloat(b.getShort());
    }
    return Tensors.floats(name, Tensors.dims(half), f);
  }

  /**
   * @param half an IEEE 754 binary16 value's bits
   * @return the same value as a float (every binary16 value is one exactly)
   */
  public static float toFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
      float v = mantissa * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    if (exponent == 31) { // infinity or NaN
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
}
