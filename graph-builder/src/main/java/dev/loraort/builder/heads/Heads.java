package dev.loraort.builder.heads;

import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.shape.Dim;
import dev.loraort.builder.shape.ValueType;
import dev.loraort.kernels.FusedKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The pieces tasks put on top of an encoder's hidden states: pooling, a new classification head,
 * sentence embeddings, and the losses (cross-entropy, in-batch contrastive). Each adds nodes to a
 * graph and returns the value it computes.
 */
public final class Heads {
  private static final int F32 = DataType.FLOAT_VALUE;

  private Heads() {}

  /** How token states become one vector per example. */
  public enum Pooling {
    /** The first token's state (BERT's [CLS], RoBERTa's {@code <s>}). */
    CLS,
    /** The mean over tokens the attention mask keeps (sentence-transformers). */
    MEAN;

    /**
     * @param s {@code cls} or {@code mean}
     * @return the pooling
     */
    public static Pooling of(String s) {
      return valueOf(s.toUpperCase(java.util.Locale.ROOT));
    }
  }

  /** The new classification head's architecture. */
  public enum Head {
    /** {@code classifier}: one linear layer on the pooled vector. */
    LINEAR,
    /**
     * {@code pooler.dense} + tanh, then {@code classifier}: BERT's pooler and classifier, the shape
     * of RoBERTa's classification head.
     */
    DENSE_TANH;

    /**
     * @param s {@code linear} or {@code dense-tanh}
     * @return the head
     */
    public static Head of(String s) {
      return valueOf(s.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
    }
  }

  /**
   * A trainable tensor the head adds: a graph input, with its initial value.
   *
   * @param name tensor name (PEFT module path + {@code .weight}/{@code .bias})
   * @param shape its shape
   * @param init initial values
   */
  public record Trainable(String name, long[] shape, float[] init) {}

  /**
   * @param g the graph
   * @param hidden token states [batch, seq, hidden]
   * @param mask the attention mask input [batch, seq] (int), or null
   * @param p the pooling
   * @return [batch, hidden]
   */
  public static String pool(Graph g, String hidden, String mask, Pooling p) {
    Emitter e = new Emitter(g, "head");
    if (p == Pooling.CLS) {
      return e.op("Gather", List.of(hidden, e.int64(0)), Attr.i("axis", 1));
    }
    if (mask == null) {
      return e.op("ReduceMean", List.of(hidden, e.ints(1)), Attr.i("keepdims", 0));
    }
    // sentence-transformers' mean pooling: masked sum over a count clamped at 1e-9
    String m = e.op("Unsqueeze", e.op("Cast", List.of(mask), Attr.i("to", F32)), e.ints(-1));
    String sum = e.op("ReduceSum", List.of(e.mul(hidden, m), e.ints(1)), Attr.i("keepdims", 0));
    String count = e.op("ReduceSum", List.of(m, e.ints(1)), Attr.i("keepdims", 0));
    return e.div(sum, e.op("Max", count, e.scalar(1e-9, F32)));
  }

  /**
   * Adds a new classification head on a pooled vector; its weights become graph inputs.
   *
   * @param g the graph
   * @param pooled [batch, hidden]
   * @param hidden the hidden size
   * @param labels the number of classes
   * @param head the architecture
   * @param poolerPrefix what the pooler's name starts with ({@code bert.} under BERT's class)
   * @param seed initial values: normal(0, 0.02) weights, zero biases (transformers' init)
   * @param out the trainable tensors added, in input order
   * @return logits [batch, labels]
   */
  public static String classifier(
      Graph g,
      String pooled,
      long hidden,
      int labels,
      Head head,
      String poolerPrefix,
      long seed,
      List<Trainable> out) {
    Emitter e = new Emitter(g, "head");
    SplittableRandom rnd = new SplittableRandom(seed);
    String x = pooled;
    if (head == Head.DENSE_TANH) {
      x = e.op("Tanh", linear(g, e, x, poolerPrefix + "pooler.dense", hidden, hidden, rnd, out));
    }
    return linear(g, e, x, "classifier", hidden, labels, rnd, out);
  }

  private static String linear(
      Graph g,
      Emitter e,
      String x,
      String module,
      long in,
      long outFeatures,
      SplittableRandom rnd,
      List<Trainable> out) {
    String w = module + ".weight";
    String b = module + ".bias";
    float[] wi = new float[Math.toIntExact(in * outFeatures)];
    for (int i = 0; i < wi.length; i++) {
      wi[i] = (float) (0.02 * gaussian(rnd));
    }
    out.add(new Trainable(w, new long[] {outFeatures, in}, wi));
    out.add(new Trainable(b, new long[] {outFeatures}, new float[(int) outFeatures]));
    g.inputs().add(new ValueType(F32, List.of(Dim.of(outFeatures), Dim.of(in))).toValueInfo(w));
    g.inputs().add(new ValueType(F32, List.of(Dim.of(outFeatures))).toValueInfo(b));
    return e.op("Gemm", List.of(x, w, b), Attr.i("transB", 1));
  }

  private static double gaussian(SplittableRandom r) {
    // Box-Muller: SplittableRandom has no nextGaussian on Java 17
    double u = 1 - r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  /**
   * @param g the graph
   * @param v [batch, dim]
   * @return v / max(||v||, 1e-12) per row (torch.nn.functional.normalize)
   */
  public static String l2Normalize(Graph g, String v) {
    Emitter e = new Emitter(g, "head");
    String norm = e.op("ReduceL2", List.of(v, e.ints(-1)), Attr.i("keepdims", 1));
    return e.div(v, e.op("Max", norm, e.scalar(1e-12, F32)));
  }

  /**
   * Mean cross-entropy of logits against integer labels, labels of -100 ignored: {@code -sum(onehot
   * * log_softmax(logits)) / max(kept, 1)}.
   *
   * @param g the graph
   * @param logits [batch, classes]
   * @param labels [batch] int64
   * @param classes the number of classes
   * @return the scalar loss
   */
  public static String crossEntropy(Graph g, String logits, String labels, int classes) {
    Emitter e = new Emitter(g, "loss");
    String logp = e.op("LogSoftmax", List.of(logits), Attr.i("axis", -1));
    String kept = e.op("Not", e.op("Equal", labels, e.int64(-100)));
    String range = e.op("Range", e.int64(0), e.int64(classes), e.int64(1));
    String onehot = e.op("Equal", e.op("Unsqueeze", labels, e.ints(-1)), range);
    String picked =
        e.mul(
            logp,
            e.op(
                "Cast",
                List.of(e.op("And", onehot, e.op("Unsqueeze", kept, e.ints(-1)))),
                Attr.i("to", F32)));
    String total = e.op("ReduceSum", List.of(picked), Attr.i("keepdims", 0));
    String count =
        e.op(
            "ReduceSum",
            List.of(e.op("Cast", List.of(kept), Attr.i("to", F32))),
            Attr.i("keepdims", 0));
    return e.neg(e.div(total, e.op("Max", count, e.scalar(1, F32))));
  }

  /**
   * In-batch contrastive loss on text pairs (sentence-transformers' MultipleNegativesRankingLoss):
   * each anchor's positive is its own pair, every other example's pair a negative; cross-entropy
   * over scale * cosine similarities.
   *
   * @param g the graph
   * @param anchors normalized embeddings [batch, dim]
   * @param positives normalized embeddings [batch, dim]
   * @param scale the similarity scale (20, sentence-transformers' default)
   * @return the scalar loss
   */
  public static String inBatchContrastive(Graph g, String anchors, String positives, double scale) {
    Emitter e = new Emitter(g, "loss");
    String sim = e.mul(e.op("MatMul", anchors, e.transpose(positives, 1, 0)), e.scalar(scale, F32));
    String logp = e.op("LogSoftmax", List.of(sim), Attr.i("axis", -1));
    String eye = e.op("EyeLike", sim);
    String diag = e.op("ReduceSum", List.of(e.mul(logp, eye)), Attr.i("keepdims", 0));
    return e.neg(e.div(diag, rows(e, eye)));
  }

  /**
   * The next-token cross-entropy of a causal LM (transformers' ForCausalLMLoss): position t
   * predicts label t + 1, labels of -100 are ignored, the mean is over the predicted tokens.
   *
   * <p>With the kernel library it is one {@link FusedKernels#SOFTMAX_CROSS_ENTROPY} over every
   * position (the last scored against no label), whose gradient is one kernel too: as ai.onnx ops
   * the loss shifts a copy of the vocabulary-sized logits, keeps their LogSoftmax for the backward,
   * and the backward scatters into zeros, exponentiates and pads, each a tensor of that size.
   *
   * @param g the graph
   * @param logits [batch, seq, vocab]
   * @param labels [batch, seq] int64
   * @param kernels whether the graph may use the kernel library (train_fused)
   * @return the scalar loss
   */
  public static String nextTokenCrossEntropy(
      Graph g, String logits, String labels, boolean kernels) {
    Emitter e = new Emitter(g, "loss");
    String next = e.op("Slice", labels, e.ints(1), e.ints(Long.MAX_VALUE), e.ints(1));
    String kept = e.op("Not", e.op("Equal", next, e.int64(-100)));
    String keptF = e.op("Cast", List.of(kept), Attr.i("to", F32));
    String count =
        e.op("Max", e.op("ReduceSum", List.of(keptF), Attr.i("keepdims", 0)), e.scalar(1, F32));
    if (kernels) {
      String nll =
          e.opsIn(
                  FusedKernels.DOMAIN,
                  FusedKernels.SOFTMAX_CROSS_ENTROPY,
                  List.of(logits, labels),
                  2,
                  Attr.i("shift", 1))
              .get(0);
      return e.div(e.op("ReduceSum", List.of(nll), Attr.i("keepdims", 0)), count);
    }
    String shifted = e.op("Slice", logits, e.ints(0), e.ints(-1), e.ints(1));
    String logp = e.op("LogSoftmax", List.of(shifted), Attr.i("axis", -1));
    String safe = e.op("Where", kept, next, e.int64(0));
    String picked =
        e.op(
            "GatherElements",
            List.of(logp, e.op("Unsqueeze", safe, e.ints(-1))),
            Attr.i("axis", -1));
    String total =
        e.op(
            "ReduceSum",
            List.of(e.mul(e.op("Squeeze", picked, e.ints(-1)), keptF)),
            Attr.i("keepdims", 0));
    return e.neg(e.div(total, count));
  }

  /**
   * CLIP's loss: the mean of the cross-entropies of each image over the texts and of each text over
   * the images, the i-th of each being the pair.
   *
   * @param g the graph
   * @param logits [images, texts] (logits_per_image: scaled cosine similarities)
   * @return the scalar loss
   */
  public static String symmetricContrastive(Graph g, String logits) {
    Emitter e = new Emitter(g, "loss");
    String eye = e.op("EyeLike", logits);
    String perImage = e.op("LogSoftmax", List.of(logits), Attr.i("axis", 1));
    String perText = e.op("LogSoftmax", List.of(logits), Attr.i("axis", 0));
    String sum =
        e.op("ReduceSum", List.of(e.mul(e.add(perImage, perText), eye)), Attr.i("keepdims", 0));
    return e.neg(e.div(sum, e.mul(rows(e, eye), e.scalar(2, F32))));
  }

  /**
   * The number of rows of a square identity, as a float32 scalar computed on the device: its sum.
   * (The row count from Shape would be a host value, and a device kernel reading it needs a copy
   * node, which keeps the CUDA EP from capturing the step as a CUDA graph.)
   */
  private static String rows(Emitter e, String eye) {
    return e.op("ReduceSum", List.of(eye), Attr.i("keepdims", 0));
  }

  /**
   * @param trainables tensors
   * @return their names
   */
  public static List<String> names(List<Trainable> trainables) {
    List<String> n = new ArrayList<>();
    trainables.forEach(t -> n.add(t.name()));
    return n;
  }
}
