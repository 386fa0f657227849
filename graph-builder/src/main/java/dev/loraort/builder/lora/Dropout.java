package dev.loraort.builder.lora;

import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.onnx.proto.Onnx.TensorProto.DataType;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Emitter;
import java.util.List;

/**
 * PEFT's LoRA dropout on a branch's input, {@code x * keep / (1 - p)}, with the mask a function of
 * the element's position, the layer and a per-step seed input: the same step gives the same mask on
 * every run, device and resume, and a CUDA-graph replay draws a new mask when the seed changes
 * (ONNX's random ops take their seed as an attribute and keep their state in the session, so
 * neither would hold).
 *
 * <p>The mask is a counter-based hash in int64 arithmetic modulo the prime P = 2^31 - 1: h = (i a +
 * seed b + k_layer) mod P for the element's flat index i, then three rounds of h = (h^2 + c) mod P
 * (every product stays below 2^63), and keep = h >= floor(p P). At p = 0 every element is kept and
 * the branch reads x itself, exactly.
 */
public final class Dropout {
  /** The modulus, 2^31 - 1 (a prime). */
  public static final long P = 2_147_483_647L;

  private static final long A = 1_103_515_245L;
  private static final long B = 12_345L;
  private static final long[] ROUNDS = {1_442_695_041L, 1_013_904_223L, 2_654_435_761L % P};

  private Dropout() {}

  /**
   * @param e the emitter
   * @param x the branch's input
   * @param layer the layer's index (a different mask for each layer reading the same x)
   * @return x with dropout applied
   */
  static String apply(Emitter e, String x, int layer) {
    String shape = e.op("Shape", x);
    String n = e.op("ReduceProd", List.of(shape), Attr.i("keepdims", 0));
    String index = e.reshape(e.op("Range", e.int64(0), n, e.int64(1)), shape);
    long k = Math.floorMod((layer + 1L) * 2_654_435_761L, P);
    String seed = e.add(e.mul(TensorNames.LORA_DROPOUT_SEED, e.int64(B)), e.int64(k));
    String h = e.op("Mod", e.add(e.mul(index, e.int64(A)), seed), e.int64(P));
    for (long c : ROUNDS) {
      h = e.op("Mod", e.add(e.mul(h, h), e.int64(c)), e.int64(P));
    }
    String p = TensorNames.LORA_DROPOUT;
    String threshold =
        e.op(
            "Cast",
            List.of(e.mul(p, e.scalar(P, DataType.FLOAT_VALUE))),
            Attr.i("to", DataType.INT64_VALUE));
    String keep =
        e.op(
            "Cast",
            List.of(e.op("GreaterOrEqual", h, threshold)),
            Attr.i("to", DataType.FLOAT_VALUE));
    String inverse =
        e.div(e.scalar(1, DataType.FLOAT_VALUE), e.sub(e.scalar(1, DataType.FLOAT_VALUE), p));
    return e.mul(e.mul(x, keep), inverse);
  }

  /**
   * The seed of a step's masks, as the trainer feeds it.
   *
   * @param runSeed the run's seed
   * @param step the optimizer step (1-based)
   * @param micro the micro-batch within the step
   * @return a seed in [0, P)
   */
  public static long seed(long runSeed, long step, int micro) {
    long h =
        runSeed * 0x9E3779B97F4A7C15L + step * 0xC2B2AE3D27D4EB4FL + micro * 0x165667B19E3779F9L;
    h ^= h >>> 31;
    h *= 0xBF58476D1CE4E5B9L;
    h ^= h >>> 29;
    return Math.floorMod(h, P);
  }
}
