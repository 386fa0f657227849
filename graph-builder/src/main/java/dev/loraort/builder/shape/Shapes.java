package dev.loraort.builder.shape;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.artifacts.onnx.proto.Onnx.ValueInfoProto;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.Tensors;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Types and shapes of every value of a graph (opset-normalized: axes, splits and shapes are
 * inputs), with symbolic dims, and the values of small integer tensors (the shape arithmetic of
 * exported models: {@code Shape -> Gather -> Concat -> Reshape}). What cannot be inferred is
 * unknown, never guessed: an unknown dim is a fresh symbol, an unknown rank is null.
 */
public final class Shapes {
  /** Integer tensors up to this many elements carry their values. */
  private static final int MAX_VALUES = 64;

  private static final Set<String> SAME_SHAPE =
      Set.of(
          "Identity",
          "Relu",
          "Erf",
          "Tanh",
          "Sigmoid",
          "Sqrt",
          "Exp",
          "Log",
          "Neg",
          "Reciprocal",
          "Abs",
          "Softmax",
          "LogSoftmax",
          "Hardmax",
          "Gelu",
          "Softplus",
          "Softsign",
          "Elu",
          "LeakyRelu",
          "HardSigmoid",
          "HardSwish",
          "Sin",
          "Cos",
          "Floor",
          "Ceil",
          "Round",
          "Sign",
          "Not",
          "IsNaN",
          "IsInf",
          "CumSum",
          "Trilu",
          "Clip",
          "Dropout",
          "RandomNormalLike",
          "RandomUniformLike",
          "EyeLike",
          "Mish",
          "Selu",
          "Celu",
          "Shrink",
          "ThresholdedRelu");
  private static final Set<String> BROADCAST =
      Set.of(
          "Add",
          "Sub",
          "Mul",
          "Div",
          "Pow",
          "Max",
          "Min",
          "Mod",
          "Sum",
          "Mean",
          "Equal",
          "Less",
          "Greater",
          "LessOrEqual",
          "GreaterOrEqual",
          "And",
          "Or",
          "Xor",
          "Where",
          "BitShift",
          "PRelu");
  private static final Set<String> COMPARISON =
      Set.of(
          "Equal",
          "Less",
          "Greater",
          "LessOrEqual",
          "GreaterOrEqual",
          "And",
          "Or",
          "Xor",
          "Not",
          "IsNaN",
          "IsInf");

  private final Map<String, ValueType> types = new HashMap<>();
  private final Map<String, List<Dim>> values = new HashMap<>();

  private Shapes() {}

  /**
   * Infers every value of a graph, in node order.
   *
   * @param g the graph (topologically sorted)
   * @return the types and small values
   */
  public static Shapes infer(Graph g) {
    Shapes s = new Shapes();
    for (ValueInfoProto v : g.inputs()) {
      s.types.put(v.getName(), ValueType.of(v));
    }
    for (Map.Entry<String, TensorProto> e : g.initializers().entrySet()) {
      TensorProto t = e.getValue();
      List<Dim> d = new ArrayList<>();
      t.getDimsList().forEach(x -> d.add(Dim.of(x)));
      s.types.put(e.getKey(), new ValueType(t.getDataType(), d));
      if (isInt(t.getDataType()) && d.size() <= 1 && Tensors.numel(t) <= MAX_VALUES) {
        List<Dim> v = new ArrayList<>();
        for (long x : Tensors.longs(t)) {
          v.add(Dim.of(x));
        }
        s.values.put(e.getKey(), v);
      }
    }
    for (Node n : g.nodes()) {
      s.node(n);
    }
    return s;
  }

  /**
   * @param v a value name
   * @return its type (unknown rank and element type if nothing is known)
   */
  public ValueType type(String v) {
    return types.getOrDefault(v, ValueType.unknownRank(0));
  }

  /**
   * @param v a value name
   * @return its rank, or -1
   */
  public int rank(String v) {
    return type(v).rank();
  }

  /**
   * @param v a value name
   * @return its element type (0 if unknown)
   */
  public int elemType(String v) {
    return type(v).elemType();
  }

  /**
   * @param v an integer value of rank 0 or 1
   * @return its elements as dims (fixed or symbolic), or null when not known
   */
  public List<Dim> value(String v) {
    return values.get(v);
  }

  /**
   * @param v an integer value
   * @return its elements when every one is a fixed number, else null
   */
  public long[] constants(String v) {
    List<Dim> d = values.get(v);
    if (d == null || !d.stream().allMatch(Dim::known)) {
      return null;
    }
    return d.stream().mapToLong(Dim::value).toArray();
  }

  /**
   * Records the type of a value added after inference (a forward output a gradient rule asked for).
   *
   * @param v the value
   * @param t its type
   */
  public void declare(String v, ValueType t) {
    types.put(v, t);
  }

  private static boolean isInt(int t) {
    return t == DataType.INT64_VALUE || t == DataType.INT32_VALUE;
  }

  private void set(String v, int elem, List<Dim> dims) {
    if (!v.isEmpty()) {
      types.put(v, new ValueType(elem, dims));
    }
  }

  private void setValue(String v, List<Dim> val) {
    if (val != null && val.size() <= MAX_VALUES) {
      values.put(v, List.copyOf(val));
    }
  }

  private List<Dim> dims(String v) {
    return type(v).dims();
  }

  private void node(Node n) {
    String op = n.op();
    String x = n.in(0);
    String y = n.out(0);
    int elem = elemType(x);
    if (n.domain().equals(FusedKernels.DOMAIN)) {
      switch (op) {
        case FusedKernels.SOFTMAX_CROSS_ENTROPY -> { // per row of the logits: float32
          List<Dim> d = dims(x);
          List<Dim> rows = d == null || d.isEmpty() ? null : d.subList(0, d.size() - 1);
          set(y, DataType.FLOAT_VALUE, rows);
          set(n.out(1), DataType.FLOAT_VALUE, rows);
        }
        case FusedKernels.SOFTMAX_CROSS_ENTROPY_GRAD -> set(y, elemType(n.in(1)), dims(n.in(1)));
        case FusedKernels.LAYER_NORM_GRAD, FusedKernels.RMS_NORM_GRAD ->
            set(y, elemType(n.in(1)), dims(x)); // X's: float32
        case FusedKernels.RMS_NORM -> set(y, DataType.BFLOAT16_VALUE, dims(x));
        case FusedKernels.LAYER_NORM -> { // Y bfloat16, the statistics float32, one per row
          List<Dim> d = dims(x);
          List<Dim> stat = d == null || d.isEmpty() ? null : new ArrayList<>(d);
          if (stat != null) {
            stat.set(stat.size() - 1, Dim.of(1));
          }
          set(y, DataType.BFLOAT16_VALUE, d);
          for (int i = 1; i < n.outputs().size(); i++) {
            set(n.out(i), DataType.FLOAT_VALUE, stat);
          }
        }
        default -> set(y, elem, dims(x)); // the other kernels return one tensor like their input 0
      }
      return;
    }
    if (!n.domain().isEmpty()) {
      for (String o : n.outputs()) {
        set(o, 0, null);
      }
      return;
    }
    if (COMPARISON.contains(op)) {
      elem = DataType.BOOL_VALUE;
    }
    if (SAME_SHAPE.contains(op)) {
      int e = elem;
      if (op.equals("EyeLike") || op.equals("RandomNormalLike") || op.equals("RandomUniformLike")) {
        e = n.has("dtype") ? (int) n.i("dtype", e) : e;
      }
      set(y, e, dims(x));
      if (op.equals("Identity")) {
        setValue(y, value(x));
      }
      if (op.equals("Dropout") && n.outputs().size() > 1) {
        set(n.out(1), DataType.BOOL_VALUE, dims(x));
      }
      return;
    }
    if (BROADCAST.contains(op)) {
      List<List<Dim>> shapes = new ArrayList<>();
      for (String i : n.inputs()) {
        shapes.add(dims(i));
      }
      if (op.equals("Where")) {
        elem = elemType(n.in(1));
      }
      set(y, elem, broadcast(shapes));
      setValue(y, arithmetic(n));
      return;
    }
    switch (op) {
      case "Cast":
        {
          int to = (int) n.i("to", 0);
          set(y, to, dims(x));
          if (isInt(to) && isInt(elem)) {
            setValue(y, value(x));
          }
          return;
        }
      case "CastLike":
        set(y, elemType(n.in(1)), dims(x));
        return;
      case "Shape":
        {
          List<Dim> d = dims(x);
          if (d == null) {
            set(y, DataType.INT64_VALUE, List.of(Dim.unknown()));
            return;
          }
          int r = d.size();
          int start = (int) clampAxis(n.i("start", 0), r);
          int end = (int) clampAxis(n.i("end", r), r);
          List<Dim> v = d.subList(start, Math.max(start, end));
          set(y, DataType.INT64_VALUE, List.of(Dim.of(v.size())));
          setValue(y, v);
          return;
        }
      case "Size":
        {
          set(y, DataType.INT64_VALUE, List.of());
          List<Dim> d = dims(x);
          if (d != null) {
            Dim p = Dim.of(1);
            for (Dim k : d) {
              p = p.times(k);
            }
            setValue(y, List.of(p));
          }
          return;
        }
      case "MatMul":
        set(y, elem, matmul(dims(x), dims(n.in(1))));
        return;
      case "Gemm":
        {
          List<Dim> a = dims(x);
          List<Dim> b = dims(n.in(1));
          if (a == null || b == null || a.size() != 2 || b.size() != 2) {
            set(y, elem, a == null || b == null ? null : List.of(Dim.unknown(), Dim.unknown()));
            return;
          }
          Dim m = n.i("transA", 0) == 0 ? a.get(0) : a.get(1);
          Dim k = n.i("transB", 0) == 0 ? b.get(1) : b.get(0);
          set(y, elem, List.of(m, k));
          return;
        }
      case "Transpose":
        {
          List<Dim> d = dims(x);
          if (d == null) {
            set(y, elem, null);
            return;
          }
          long[] perm = perm(n, d.size());
          List<Dim> o = new ArrayList<>();
          for (long p : perm) {
            o.add(d.get((int) p));
          }
          set(y, elem, o);
          return;
        }
      case "Reshape":
        {
          List<Dim> target = value(n.in(1));
          List<Dim> shape = shapeValue(n.in(1));
          set(
              y,
              elem,
              target == null && shape != null
                  ? shape
                  : reshape(dims(x), target, n.i("allowzero", 0) != 0));
          List<Dim> v = value(x);
          List<Dim> d = dims(y);
          if (v != null && d != null && d.size() <= 1) {
            setValue(y, v);
          }
          return;
        }
      case "Flatten":
        {
          List<Dim> d = dims(x);
          if (d == null) {
            set(y, elem, List.of(Dim.unknown(), Dim.unknown()));
            return;
          }
          int axis = (int) normAxis(n.i("axis", 1), d.size() + 1);
          set(y, elem, List.of(product(d.subList(0, axis)), product(d.subList(axis, d.size()))));
          return;
        }
      case "Unsqueeze":
        {
          List<Dim> d = dims(x);
          long[] axes = constants(n.in(1));
          if (d == null || axes == null) {
            set(y, elem, null);
            return;
          }
          int r = d.size() + axes.length;
          List<Dim> o = new ArrayList<>(Collections.nCopies(r, (Dim) null));
          for (long a : axes) {
            o.set((int) normAxis(a, r), Dim.of(1));
          }
          int k = 0;
          for (int i = 0; i < r; i++) {
            if (o.get(i) == null) {
              o.set(i, d.get(k++));
            }
          }
          set(y, elem, o);
          List<Dim> v = value(x);
          if (v != null && d.isEmpty()) {
            setValue(y, v);
          }
          return;
        }
      case "Squeeze":
        {
          List<Dim> d = dims(x);
          if (d == null) {
            set(y, elem, null);
            return;
          }
          long[] axes = n.hasIn(1) ? constants(n.in(1)) : null;
          List<Dim> o = new ArrayList<>();
          if (axes == null) {
            if (n.hasIn(1)) {
              set(y, elem, null);
              return;
            }
            for (Dim k : d) {
              if (!k.is(1)) {
                o.add(k);
              }
            }
          } else {
            java.util.Set<Long> drop = new java.util.HashSet<>();
            for (long a : axes) {
              drop.add(normAxis(a, d.size()));
            }
            for (int i = 0; i < d.size(); i++) {
              if (!drop.contains((long) i)) {
                o.add(d.get(i));
              }
            }
          }
          set(y, elem, o);
          if (o.isEmpty() && value(x) != null && value(x).size() == 1) {
            setValue(y, value(x));
          }
          return;
        }
      case "Concat":
        {
          List<List<Dim>> in = new ArrayList<>();
          for (String i : n.inputs()) {
            in.add(dims(i));
          }
          set(y, elem, concat(in, n.i("axis", 0)));
          List<Dim> v = new ArrayList<>();
          for (String i : n.inputs()) {
            if (value(i) == null) {
              return;
            }
            v.addAll(value(i));
          }
          setValue(y, v);
          return;
        }
      case "Split":
        split(n, elem);
        return;
      case "Slice":
        slice(n, elem);
        return;
      case "Gather":
        gather(n, elem);
        return;
      case "GatherElements":
        set(y, elem, dims(n.in(1)));
        return;
      case "GatherND":
        {
          // indices [i0 .. i(q-2), k] pick k leading dims of data after batch_dims
          List<Dim> d = dims(x);
          List<Dim> idx = dims(n.in(1));
          int b = (int) n.i("batch_dims", 0);
          if (d == null || idx == null || idx.isEmpty() || !idx.get(idx.size() - 1).known()) {
            set(y, elem, null);
            return;
          }
          int k = (int) idx.get(idx.size() - 1).value();
          List<Dim> o = new ArrayList<>(idx.subList(0, idx.size() - 1));
          o.addAll(d.subList(Math.min(d.size(), b + k), d.size()));
          set(y, elem, o);
          return;
        }
      case "ScatterElements":
      case "ScatterND":
        set(y, elem, dims(x));
        return;
      case "Expand":
        {
          List<Dim> shape = shapeValue(n.in(1));
          set(
              y,
              elem,
              shape == null || dims(x) == null ? null : broadcast(List.of(dims(x), shape)));
          return;
        }
      case "ConstantOfShape":
        {
          int e = n.has("value") ? n.tensor("value").getDataType() : DataType.FLOAT_VALUE;
          List<Dim> shape = shapeValue(x);
          set(y, e, shape);
          if (isInt(e)
              && shape != null
              && shape.size() == 1
              && shape.get(0).known()
              && shape.get(0).value() <= MAX_VALUES) {
            long v = n.has("value") ? Tensors.longs(n.tensor("value"))[0] : 0;
            setValue(y, Collections.nCopies((int) shape.get(0).value(), Dim.of(v)));
          }
          return;
        }
      case "Range":
        {
          set(y, elem, List.of(Dim.unknown()));
          long[] a = constants(n.in(0));
          long[] b = constants(n.in(1));
          long[] c = constants(n.in(2));
          if (a != null && b != null && c != null && c[0] != 0) {
            List<Dim> v = new ArrayList<>();
            for (long i = a[0]; c[0] > 0 ? i < b[0] : i > b[0]; i += c[0]) {
              v.add(Dim.of(i));
            }
            set(y, elem, List.of(Dim.of(v.size())));
            setValue(y, v);
          }
          return;
        }
      case "ReduceSum":
      case "ReduceMean":
      case "ReduceMax":
      case "ReduceMin":
      case "ReduceProd":
      case "ReduceL1":
      case "ReduceL2":
      case "ReduceLogSum":
      case "ReduceLogSumExp":
      case "ReduceSumSquare":
        reduce(n, elem);
        return;
      case "ArgMax":
      case "ArgMin":
        {
          List<Dim> d = dims(x);
          if (d == null) {
            set(y, DataType.INT64_VALUE, null);
            return;
          }
          int axis = (int) normAxis(n.i("axis", 0), d.size());
          List<Dim> o = new ArrayList<>(d);
          if (n.i("keepdims", 1) != 0) {
            o.set(axis, Dim.of(1));
          } else {
            o.remove(axis);
          }
          set(y, DataType.INT64_VALUE, o);
          return;
        }
      case "LayerNormalization":
        {
          List<Dim> d = dims(x);
          set(y, elem, d);
          if (d != null) {
            int axis = (int) normAxis(n.i("axis", -1), d.size());
            List<Dim> stat = new ArrayList<>(d);
            for (int i = axis; i < d.size(); i++) {
              stat.set(i, Dim.of(1));
            }
            int se = n.has("stash_type") ? (int) n.i("stash_type", 1) : DataType.FLOAT_VALUE;
            set(n.out(1), se, stat);
            set(n.out(2), se, stat);
          }
          return;
        }
      case "Tile":
        {
          List<Dim> d = dims(x);
          List<Dim> r = value(n.in(1));
          if (d == null || r == null || r.size() != d.size()) {
            set(y, elem, d == null ? null : unknowns(d.size()));
            return;
          }
          List<Dim> o = new ArrayList<>();
          for (int i = 0; i < d.size(); i++) {
            o.add(d.get(i).times(r.get(i)));
          }
          set(y, elem, o);
          return;
        }
      case "Conv":
        conv(n, elem);
        return;
      case "NonZero":
        set(
            y,
            DataType.INT64_VALUE,
            dims(x) == null ? null : List.of(Dim.of(dims(x).size()), Dim.unknown()));
        return;
      case "Pad":
        {
          List<Dim> d = dims(x);
          long[] pads = constants(n.in(1));
          if (d == null || pads == null || n.hasIn(3)) {
            set(y, elem, d == null ? null : unknowns(d.size()));
            return;
          }
          List<Dim> o = new ArrayList<>();
          for (int i = 0; i < d.size(); i++) {
            o.add(d.get(i).plus(Dim.of(pads[i] + pads[i + d.size()])));
          }
          set(y, elem, o);
          return;
        }
      default:
        for (String o : n.outputs()) {
          set(o, 0, null);
        }
    }
  }

  /**
   * A shape given as a tensor (Reshape's, Expand's, ConstantOfShape's input): its values, or dims
   * nothing is known of when only its length is known, or null.
   */
  private List<Dim> shapeValue(String v) {
    List<Dim> val = value(v);
    List<Dim> len = dims(v);
    if (val == null && len != null && len.size() == 1 && len.get(0).known()) {
      return unknowns((int) len.get(0).value());
    }
    return val;
  }

  private static List<Dim> unknowns(int r) {
    List<Dim> o = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      o.add(Dim.unknown());
    }
    return o;
  }

  private static Dim product(List<Dim> d) {
    Dim p = Dim.of(1);
    for (Dim k : d) {
      p = p.times(k);
    }
    return p;
  }

  /**
   * @param a an axis (negative counts from the end)
   * @param r the rank
   * @return the axis in [0, r)
   */
  public static long normAxis(long a, int r) {
    return a < 0 ? a + r : a;
  }

  private static long clampAxis(long a, int r) {
    long v = a < 0 ? a + r : a;
    return Math.max(0, Math.min(r, v));
  }

  /**
   * @param n a Transpose node
   * @param rank its input's rank
   * @return the permutation (reversal when the node gives none)
   */
  public static long[] perm(Node n, int rank) {
    long[] p = n.ints("perm");
    if (p == null) {
      p = new long[rank];
      for (int i = 0; i < rank; i++) {
        p[i] = rank - 1 - i;
      }
    }
    return p;
  }

  /**
   * Numpy-style broadcasting of several shapes.
   *
   * @param shapes the operands' dims (null entries: unknown rank)
   * @return the result's dims, or null when a rank is unknown
   */
  public static List<Dim> broadcast(List<List<Dim>> shapes) {
    int r = 0;
    for (List<Dim> s : shapes) {
      if (s == null) {
        return null;
      }
      r = Math.max(r, s.size());
    }
    List<Dim> out = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      Dim res = null;
      for (List<Dim> s : shapes) {
        int k = i - (r - s.size());
        if (k < 0) {
          continue;
        }
        Dim d = s.get(k);
        if (res == null || res.is(1)) {
          res = d;
        } else if (d.is(1) || d.equals(res)) {
          continue;
        } else if (d.known() && !res.known()) {
          res = d;
        } else if (res.known() && !d.known()) {
          continue;
        } else if (res.isUnknown()) {
          res = d; // a named dim against one nothing is known of: the named one (as ONNX infers)
        } else if (!d.isUnknown()) {
          res = Dim.unknown();
        }
      }
      out.add(res);
    }
    return out;
  }

  private static List<Dim> matmul(List<Dim> a, List<Dim> b) {
    if (a == null || b == null || a.isEmpty() || b.isEmpty()) {
      return null;
    }
    if (a.size() == 1 || b.size() == 1) {
      if (a.size() == 1 && b.size() == 1) {
        return List.of();
      }
      if (a.size() == 1) {
        List<Dim> o = new ArrayList<>(b.subList(0, b.size() - 2));
        o.add(b.get(b.size() - 1));
        return o;
      }
      return new ArrayList<>(a.subList(0, a.size() - 1));
    }
    List<Dim> batch = broadcast(List.of(a.subList(0, a.size() - 2), b.subList(0, b.size() - 2)));
    List<Dim> o = new ArrayList<>(batch);
    o.add(a.get(a.size() - 2));
    o.add(b.get(b.size() - 1));
    return o;
  }

  private static List<Dim> reshape(List<Dim> in, List<Dim> target, boolean allowZero) {
    if (target == null) {
      return null;
    }
    List<Dim> o = new ArrayList<>();
    int infer = -1;
    for (int i = 0; i < target.size(); i++) {
      Dim t = target.get(i);
      if (t.is(0) && !allowZero) {
        o.add(in != null && i < in.size() ? in.get(i) : Dim.unknown());
      } else if (t.is(-1)) {
        infer = i;
        o.add(null);
      } else {
        o.add(t);
      }
    }
    if (infer >= 0) {
      Dim rest = Dim.of(1);
      for (Dim d : o) {
        if (d != null) {
          rest = rest.times(d);
        }
      }
      o.set(infer, in == null ? Dim.unknown() : product(in).div(rest));
    }
    return o;
  }

  private static List<Dim> concat(List<List<Dim>> in, long axis) {
    List<Dim> first = null;
    for (List<Dim> s : in) {
      if (s == null) {
        return null;
      }
      first = first == null ? s : first;
    }
    if (first == null) {
      return null;
    }
    int a = (int) normAxis(axis, first.size());
    List<Dim> o = new ArrayList<>(first);
    Dim sum = Dim.of(0);
    for (List<Dim> s : in) {
      sum = sum.plus(s.get(a));
    }
    o.set(a, sum);
    return o;
  }

  private void split(Node n, int elem) {
    List<Dim> d = dims(n.in(0));
    int outs = n.outputs().size();
    if (d == null) {
      n.outputs().forEach(o -> set(o, elem, null));
      return;
    }
    int a = (int) normAxis(n.i("axis", 0), d.size());
    List<Dim> sizes = n.hasIn(1) ? value(n.in(1)) : null;
    for (int k = 0; k < outs; k++) {
      List<Dim> o = new ArrayList<>(d);
      if (sizes != null && sizes.size() == outs) {
        o.set(a, sizes.get(k));
      } else if (!n.hasIn(1) && d.get(a).known() && d.get(a).value() % outs == 0) {
        o.set(a, Dim.of(d.get(a).value() / outs));
      } else if (!n.hasIn(1)) {
        o.set(a, d.get(a).div(Dim.of(outs)));
      } else {
        o.set(a, Dim.unknown());
      }
      set(n.out(k), elem, o);
    }
  }

  private void slice(Node n, int elem) {
    String x = n.in(0);
    List<Dim> d = dims(x);
    long[] starts = constants(n.in(1));
    long[] ends = constants(n.in(2));
    long[] axes = n.hasIn(3) ? constants(n.in(3)) : null;
    long[] steps = n.hasIn(4) ? constants(n.in(4)) : null;
    if (d == null || starts == null || ends == null || (n.hasIn(3) && axes == null)) {
      set(n.out(0), elem, d == null ? null : unknowns(d.size()));
      return;
    }
    List<Dim> o = new ArrayList<>(d);
    List<Dim> v = value(x);
    List<Dim> vOut = v == null ? null : new ArrayList<>(v);
    for (int k = 0; k < starts.length; k++) {
      int a = (int) normAxis(axes == null ? k : axes[k], d.size());
      long step = steps == null ? 1 : steps[k];
      Dim dim = d.get(a);
      if (step == 1 && starts[k] == 0 && ends[k] >= Integer.MAX_VALUE) {
        continue;
      }
      if (!dim.known()) {
        if (step == 1 && starts[k] >= 0 && ends[k] >= 0 && ends[k] < Integer.MAX_VALUE) {
          // a fixed window inside a dim the model assumes large enough
          o.set(a, Dim.of(Math.max(0, ends[k] - starts[k])));
        } else {
          o.set(a, Dim.unknown());
        }
        vOut = null;
        continue;
      }
      long len = dim.value();
      long[] r = sliceRange(starts[k], ends[k], step, len);
      long count =
          step > 0
              ? Math.max(0, (r[1] - r[0] + step - 1) / step)
              : Math.max(0, (r[0] - r[1] - step - 1) / -step);
      o.set(a, Dim.of(count));
      if (vOut != null && d.size() == 1) {
        List<Dim> picked = new ArrayList<>();
        for (long i = r[0], c = 0; c < count; i += step, c++) {
          picked.add(v.get((int) i));
        }
        vOut = picked;
      }
    }
    set(n.out(0), elem, o);
    if (vOut != null) {
      setValue(n.out(0), vOut);
    }
  }

  /**
   * ONNX Slice's clamping of start and end on a dim of a given length.
   *
   * @param start start (negative counts from the end)
   * @param end end (exclusive)
   * @param step step (non-zero)
   * @param len the dim's length
   * @return {start, end} clamped
   */
  public static long[] sliceRange(long start, long end, long step, long len) {
    long s = start < 0 ? start + len : start;
    long e = end < 0 ? end + len : end;
    if (step > 0) {
      s = Math.max(0, Math.min(len, s));
      e = Math.max(0, Math.min(len, e));
    } else {
      s = Math.max(-1, Math.min(len - 1, s));
      e = Math.max(-1, Math.min(len - 1, e));
    }
    return new long[] {s, e};
  }

  private void gather(Node n, int elem) {
    List<Dim> d = dims(n.in(0));
    List<Dim> idx = dims(n.in(1));
    if (d == null || idx == null) {
      set(n.out(0), elem, null);
      return;
    }
    int a = (int) normAxis(n.i("axis", 0), d.size());
    List<Dim> o = new ArrayList<>(d.subList(0, a));
    o.addAll(idx);
    o.addAll(d.subList(a + 1, d.size()));
    set(n.out(0), elem, o);
    List<Dim> v = value(n.in(0));
    long[] ix = constants(n.in(1));
    if (v != null && ix != null && d.size() == 1) {
      List<Dim> picked = new ArrayList<>();
      for (long i : ix) {
        int k = (int) (i < 0 ? i + v.size() : i);
        if (k < 0 || k >= v.size()) {
          return;
        }
        picked.add(v.get(k));
      }
      setValue(n.out(0), picked);
    }
  }

  private void reduce(Node n, int elem) {
    List<Dim> d = dims(n.in(0));
    if (d == null) {
      set(n.out(0), elem, null);
      return;
    }
    long[] axes = n.hasIn(1) ? constants(n.in(1)) : null;
    boolean keep = n.i("keepdims", 1) != 0;
    if (n.hasIn(1) && axes == null) {
      set(n.out(0), elem, keep ? unknowns(d.size()) : null);
      return;
    }
    java.util.Set<Long> red = new java.util.HashSet<>();
    if (axes == null || axes.length == 0) {
      if (n.i("noop_with_empty_axes", 0) != 0) {
        set(n.out(0), elem, d);
        return;
      }
      for (long i = 0; i < d.size(); i++) {
        red.add(i);
      }
    } else {
      for (long a : axes) {
        red.add(normAxis(a, d.size()));
      }
    }
    List<Dim> o = new ArrayList<>();
    for (int i = 0; i < d.size(); i++) {
      if (!red.contains((long) i)) {
        o.add(d.get(i));
      } else if (keep) {
        o.add(Dim.of(1));
      }
    }
    set(n.out(0), elem, o);
    if (n.op().equals("ReduceProd") && value(n.in(0)) != null) {
      setValue(n.out(0), List.of(product(value(n.in(0)))));
    }
  }

  private void conv(Node n, int elem) {
    List<Dim> x = dims(n.in(0));
    List<Dim> w = dims(n.in(1));
    if (x == null || w == null || x.size() < 3) {
      set(n.out(0), elem, null);
      return;
    }
    int sp = x.size() - 2;
    long[] k = n.ints("kernel_shape");
    long[] s = n.ints("strides");
    long[] p = n.ints("pads");
    long[] dl = n.ints("dilations");
    List<Dim> o = new ArrayList<>();
    o.add(x.get(0));
    o.add(w.get(0));
    boolean explicit = n.s("auto_pad", "NOTSET").equals("NOTSET");
    for (int i = 0; i < sp; i++) {
      Dim in = x.get(2 + i);
      long ks = k != null ? k[i] : w.get(2 + i).known() ? w.get(2 + i).value() : -1;
      if (!in.known() || ks < 0 || !explicit) {
        o.add(Dim.unknown());
        continue;
      }
      long st = s == null ? 1 : s[i];
      long dil = dl == null ? 1 : dl[i];
      long pad = p == null ? 0 : p[i] + p[i + sp];
      o.add(Dim.of((in.value() + pad - dil * (ks - 1) - 1) / st + 1));
    }
    set(n.out(0), elem, o);
  }

  /** Shape arithmetic on small integer values (Add, Sub, Mul, Div, Equal, Where, Max, Min). */
  private List<Dim> arithmetic(Node n) {
    List<List<Dim>> in = new ArrayList<>();
    int len = 1;
    for (String i : n.inputs()) {
      List<Dim> v = value(i);
      if (v == null) {
        return null;
      }
      in.add(v);
      len = Math.max(len, v.size());
    }
    List<Dim> out = new ArrayList<>();
    for (int k = 0; k < len; k++) {
      List<Dim> args = new ArrayList<>();
      for (List<Dim> v : in) {
        if (v.size() != 1 && v.size() != len) {
          return null;
        }
        args.add(v.get(v.size() == 1 ? 0 : k));
      }
      Dim r = scalarOp(n.op(), args);
      if (r == null) {
        return null;
      }
      out.add(r);
    }
    return out;
  }

  private static Dim scalarOp(String op, List<Dim> a) {
    boolean allKnown = a.stream().allMatch(Dim::known);
    switch (op) {
      case "Mul":
        return a.get(0).times(a.get(1));
      case "Div":
        if (allKnown && a.get(1).value() != 0) {
          return Dim.of(Math.floorDiv(a.get(0).value(), a.get(1).value()));
        }
        return a.get(0).div(a.get(1));
      case "Add":
        return a.get(0).plus(a.get(1));
      case "Sub":
        return a.get(0).plus(a.get(1).times(Dim.of(-1)));
      case "Equal":
        if (allKnown) {
          return Dim.of(a.get(0).value() == a.get(1).value() ? 1 : 0);
        }
        if (a.get(0).equals(a.get(1))) {
          return Dim.of(1);
        }
        // a symbolic dim is a size: never negative (TorchScript's expand tests dims against -1)
        for (int k = 0; k < 2; k++) {
          if (a.get(k).known() && a.get(k).value() < 0) {
            return Dim.of(0);
          }
        }
        return null;
      case "Where":
        if (a.get(0).known()) {
          return a.get(0).value() != 0 ? a.get(1) : a.get(2);
        }
        return null;
      case "Max":
        return allKnown ? Dim.of(Math.max(a.get(0).value(), a.get(1).value())) : null;
      case "Min":
        return allKnown ? Dim.of(Math.min(a.get(0).value(), a.get(1).value())) : null;
      default:
        return null;
    }
  }
}
