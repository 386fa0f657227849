package dev.loraort.builder.shape;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorShapeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TypeProto;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.List;

/**
 * A tensor's element type and shape.
 *
 * @param elemType ONNX element type (0 when unknown)
 * @param dims its dims, or null when even the rank is unknown
 */
public record ValueType(int elemType, List<Dim> dims) {
  /** Copies the dims. */
  public ValueType {
    dims = dims == null ? null : List.copyOf(dims);
  }

  /**
   * @param elemType element type
   * @return a type of unknown rank
   */
  public static ValueType unknownRank(int elemType) {
    return new ValueType(elemType, null);
  }

  /**
   * @return the rank, or -1 when unknown
   */
  public int rank() {
    return dims == null ? -1 : dims.size();
  }

  /**
   * @param i a dim index (negative counts from the end)
   * @return that dim
   */
  public Dim dim(int i) {
    return dims.get(i < 0 ? i + dims.size() : i);
  }

  /**
   * @param v a declared value
   * @return its type; unnamed dims become unknown symbols
   */
  public static ValueType of(ValueInfoProto v) {
    TypeProto.Tensor t = v.getType().getTensorType();
    if (!t.hasShape()) {
      return unknownRank(t.getElemType());
    }
    List<Dim> d = new ArrayList<>();
    for (TensorShapeProto.Dimension x : t.getShape().getDimList()) {
      d.add(
          x.hasDimValue()
              ? Dim.of(x.getDimValue())
              : x.hasDimParam() && !x.getDimParam().isEmpty()
                  ? Dim.sym(x.getDimParam())
                  : Dim.unknown());
    }
    return new ValueType(t.getElemType(), d);
  }

  /**
   * @param name the value's name
   * @return a declaration of this type (symbolic dims by their names, unknown ones unnamed)
   */
  public ValueInfoProto toValueInfo(String name) {
    TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(elemType);
    if (dims != null) {
      TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
      for (Dim d : dims) {
        TensorShapeProto.Dimension.Builder x = TensorShapeProto.Dimension.newBuilder();
        if (d.known()) {
          x.setDimValue(d.value());
        } else if (!d.param().startsWith("?")) {
          x.setDimParam(d.param());
        }
        s.addDim(x);
      }
      t.setShape(s);
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(TypeProto.newBuilder().setTensorType(t))
        .build();
  }

  @Override
  public String toString() {
    return (dims == null ? "[?]" : dims.toString()) + " (type " + elemType + ")";
  }
}
