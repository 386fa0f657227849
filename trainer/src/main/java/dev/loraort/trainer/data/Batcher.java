package dev.loraort.trainer.data;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Cycles through examples in a seeded order that is reshuffled every epoch, and pads each batch
 * along its sequence dim to the batch's longest example, rounded up to a multiple of {@code
 * padToMultipleOf} (as Hugging Face's collators' pad_to_multiple_of; never past the model's
 * positions): input_ids with the pad token, labels with -100 (ignored by the loss), everything else
 * with 0. Rounding up gives real text a few batch shapes instead of one per length, which CUDA
 * graphs need. The last batch of an epoch may be smaller. A family's own inputs are added by its
 * {@link FamilyInputs} (Qwen2-VL: the image patches concatenated, the positions and patch offsets
 * computed).
 */
public final class Batcher implements BatchSource {
  private final List<JsonlDataset.Example> data;
  private final Manifest manifest;
  private final int batchSize;
  private final long shuffleSeed;
  private final boolean shuffle;
  private final FamilyInputs family;
  private final int padToMultipleOf;
  private final long positions;
  private int[] order;
  private int epoch = -1;
  private int cursor;

  /**
   * @param data the examples
   * @param manifest their model's manifest (inputs, pad token)
   * @param batchSize examples per batch
   * @param shuffleSeed the data-order stream's seed
   */
  public Batcher(
      List<JsonlDataset.Example> data, Manifest manifest, int batchSize, long shuffleSeed) {
    this(data, manifest, batchSize, shuffleSeed, true, 1);
  }

  /**
   * @param data the examples
   * @param manifest their model's manifest (inputs, pad token)
   * @param batchSize examples per batch
   * @param shuffleSeed the data-order stream's seed
   * @param padToMultipleOf sequence lengths are rounded up to a multiple of this (1: the longest)
   */
  public Batcher(
      List<JsonlDataset.Example> data,
      Manifest manifest,
      int batchSize,
      long shuffleSeed,
      int padToMultipleOf) {
    this(data, manifest, batchSize, shuffleSeed, true, padToMultipleOf);
  }

  /**
   * Batches in file order, every epoch the same (evaluation).
   *
   * @param data the examples
   * @param manifest their model's manifest
   * @param batchSize examples per batch
   * @return the batcher
   */
  public static Batcher inOrder(List<JsonlDataset.Example> data, Manifest manifest, int batchSize) {
    return new Batcher(data, manifest, batchSize, 0, false, 1);
  }

  private Batcher(
      List<JsonlDataset.Example> data,
      Manifest manifest,
      int batchSize,
      long shuffleSeed,
      boolean shuffle,
      int padToMultipleOf) {
    if (data.isEmpty()) {
      throw new IllegalArgumentException("no examples");
    }
    if (padToMultipleOf < 1) {
      throw new IllegalArgumentException(
          "--pad-to-multiple-of must be >= 1, got " + padToMultipleOf);
    }
    this.data = List.copyOf(data);
    this.manifest = manifest;
    this.batchSize = batchSize;
    this.shuffleSeed = shuffleSeed;
    this.shuffle = shuffle;
    this.family = FamilyInputs.of(manifest);
    this.padToMultipleOf = padToMultipleOf;
    this.positions = padToMultipleOf > 1 ? InputLimits.of(manifest).maxLength() : 0;
  }

  @Override
  public int batchesPerEpoch() {
    return (data.size() + batchSize - 1) / batchSize;
  }

  /** The next batch; a new shuffled epoch starts when the current one is used up. */
  @Override
  public Map<String, Tensor> next() {
    if (order == null || cursor >= order.length) {
      epoch++;
      order =
          permutation(data.size(), new SplittableRandom(shuffleSeed + 0x9E3779B97F4A7C15L * epoch));
      cursor = 0;
    }
    int n = Math.min(batchSize, order.length - cursor);
    JsonlDataset.Example[] batch = new JsonlDataset.Example[n];
    for (int i = 0; i < n; i++) {
      batch[i] = data.get(order[cursor + i]);
    }
    cursor += n;
    return collate(batch);
  }

  private Map<String, Tensor> collate(JsonlDataset.Example[] batch) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Manifest.IoSpec s : manifest.inputs()) {
      if (family.builds(s.name())) {
        continue; // below, from the examples and the collated tokens
      }
      long have =
          java.util.Arrays.stream(batch).filter(e -> e.values().get(s.name()) != null).count();
      if (have == 0) {
        continue; // an input these examples do not feed (a pair's second text, at evaluation)
      }
      if (have < batch.length) {
        throw new IllegalArgumentException(
            manifest.id() + ": some examples of a batch have " + s.name() + ", others do not");
      }
      long fixed = s.fixedElementsPerExample();
      boolean variable = s.variablePerExample();
      int longest = 0;
      for (JsonlDataset.Example e : batch) {
        longest = Math.max(longest, length(e.values().get(s.name())));
      }
      if (variable) {
        longest = (int) (padded(longest / fixed) * fixed);
      }
      long[] shape = new long[s.shape().size()];
      shape[0] = batch.length;
      for (int i = 1; i < shape.length; i++) {
        Manifest.Dim d = s.shape().get(i);
        shape[i] = d.symbolic() ? longest / fixed : d.size();
      }
      int row = variable ? longest : (int) fixed;
      if (s.dtype() == Tensor.DType.F32) {
        float[] a = new float[batch.length * row];
        for (int b = 0; b < batch.length; b++) {
          Object v = batch[b].values().get(s.name());
          if (v instanceof FloatRow r) {
            r.copyTo(a, b * row);
          } else {
            System.arraycopy((float[]) v, 0, a, b * row, ((float[]) v).length);
          }
        }
        out.put(s.name(), Tensor.ofFloats(shape, a));
      } else {
        long pad = padValue(s);
        long[] a = new long[batch.length * row];
        java.util.Arrays.fill(a, pad);
        for (int b = 0; b < batch.length; b++) {
          long[] v = (long[]) batch[b].values().get(s.name());
          System.arraycopy(v, 0, a, b * row, v.length);
        }
        if (s.dtype() == Tensor.DType.I64) {
          out.put(s.name(), Tensor.ofLongs(shape, a));
        } else {
          int[] i32 = new int[a.length];
          for (int i = 0; i < a.length; i++) {
            i32[i] = Math.toIntExact(a[i]);
          }
          out.put(s.name(), Tensor.ofInts(shape, i32));
        }
      }
    }
    family.collate(batch, out);
    return out;
  }

  @Override
  public long[] position() {
    return new long[] {epoch, cursor};
  }

  /** Continues at that epoch's order (rebuilt from the seed) and position. */
  @Override
  public void seek(long[] position) {
    epoch = (int) position[0];
    cursor = (int) position[1];
    order =
        epoch < 0
            ? null
            : permutation(
                data.size(), new SplittableRandom(shuffleSeed + 0x9E3779B97F4A7C15L * epoch));
  }

  /** A sequence length rounded up to the multiple, within the positions when they are known. */
  private long padded(long length) {
    long up = (length + padToMultipleOf - 1) / padToMultipleOf * padToMultipleOf;
    return positions > 0 ? Math.max(length, Math.min(up, positions)) : up;
  }

  private long padValue(Manifest.IoSpec s) {
    switch (s.name()) {
      case "input_ids":
      case "positive_input_ids":
        return manifest.padTokenId();
      case "labels":
        return -100; // ignore_index of the cross-entropy in every exported loss
      default:
        return 0;
    }
  }

  private static int length(Object v) {
    if (v instanceof FloatRow r) {
      return r.length();
    }
    return v instanceof float[] ? ((float[]) v).length : ((long[]) v).length;
  }

  private int[] permutation(int n, SplittableRandom rng) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    if (!shuffle) {
      return p;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
