package dev.loraort.trainer.data;

import com.google.gson.JsonObject;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Qwen2-VL's inputs beyond the generic ones: a line's image patches ({@code pixel_values},
 * [patches, values] as the model's image processor makes them) and grids ({@code image_grid_thw},
 * one (t, h, w) per image), checked against its image tokens; in a batch, the patches concatenated
 * and the positions and patch offsets computed ({@link Qwen2VlInputs}). Default labels ignore the
 * image tokens.
 */
final class Qwen2VlBatches implements FamilyInputs {
  private final Qwen2VlInputs vision;
  private final long row; // values per image patch

  Qwen2VlBatches(Manifest m) {
    this.vision = Qwen2VlInputs.of(m);
    this.row =
        m.inputs().stream()
            .filter(s -> s.name().equals(Qwen2VlInputs.PIXELS))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        m.dir().resolve(Manifest.FILE)
                            + ": a Qwen2-VL graph needs a "
                            + Qwen2VlInputs.PIXELS
                            + " input"))
            .fixedElementsPerExample();
  }

  @Override
  public boolean builds(String input) {
    return Qwen2VlInputs.COMPUTED.contains(input) || input.equals(Qwen2VlInputs.PIXELS);
  }

  /** Reads and checks a line's patches and grids against its image tokens. */
  @Override
  public void read(JsonObject o, Map<String, Object> v, String at) throws IOException {
    long[] grids =
        JsonlDataset.integers(
            JsonlDataset.numbers(
                JsonlDataset.field(o, Qwen2VlInputs.GRIDS, at), Qwen2VlInputs.GRIDS, at),
            Qwen2VlInputs.GRIDS,
            at);
    if (grids.length == 0 || grids.length % 3 != 0) {
      throw new IOException(
          at + ": field " + Qwen2VlInputs.GRIDS + " must hold one (t, h, w) per image");
    }
    long patches = 0;
    long tokens = 0;
    List<long[]> perImage = Qwen2VlInputs.grids(grids);
    for (long[] g : perImage) {
      if (g[0] < 1
          || g[1] < 1
          || g[2] < 1
          || g[1] % vision.merge() != 0
          || g[2] % vision.merge() != 0) {
        throw new IOException(
            at
                + ": "
                + Qwen2VlInputs.GRIDS
                + " "
                + Arrays.toString(g)
                + " must be positive with h and w multiples of spatial_merge_size "
                + vision.merge());
      }
      patches += Qwen2VlInputs.patches(g);
      tokens += vision.tokens(g);
    }
    long[] ids = (long[]) v.get("input_ids");
    long imageTokens = Arrays.stream(ids).filter(x -> x == vision.imageToken()).count();
    if (imageTokens != tokens) {
      throw new IOException(
          at
              + ": input_ids has "
              + imageTokens
              + " image tokens ("
              + vision.imageToken()
              + "); the image grids need "
              + tokens);
    }
    try { // the layout the batcher relies on: each image's tokens in one attended run
      vision.mropePositions(ids, (long[]) v.get("attention_mask"), ids.length, List.of(perImage));
    } catch (IllegalArgumentException e) {
      throw new IOException(at + ": " + e.getMessage(), e);
    }
    List<Double> flat =
        JsonlDataset.numbers(
            JsonlDataset.field(o, Qwen2VlInputs.PIXELS, at), Qwen2VlInputs.PIXELS, at);
    if (flat.size() != patches * row) {
      throw new IOException(
          at
              + ": field "
              + Qwen2VlInputs.PIXELS
              + " has "
              + flat.size()
              + " values; the image grids need "
              + patches
              + " patches of "
              + row);
    }
    v.put(Qwen2VlInputs.PIXELS, JsonlDataset.floats(flat));
    v.put(Qwen2VlInputs.GRIDS, grids);
    if (!o.has("labels")) { // defaulted to input_ids: image tokens are not predicted
      long[] labels = ((long[]) v.get("labels")).clone();
      for (int i = 0; i < labels.length; i++) {
        if (ids[i] == vision.imageToken()) {
          labels[i] = -100;
        }
      }
      v.put("labels", labels);
    }
  }

  private static Tensor patches(JsonlDataset.Example[] batch, long row) {
    int total = 0;
    for (JsonlDataset.Example e : batch) {
      total += ((float[]) e.values().get(Qwen2VlInputs.PIXELS)).length;
    }
    float[] a = new float[total];
    int at = 0;
    for (JsonlDataset.Example e : batch) {
      float[] p = (float[]) e.values().get(Qwen2VlInputs.PIXELS);
      System.arraycopy(p, 0, a, at, p.length);
      at += p.length;
    }
    return Tensor.ofFloats(new long[] {total / row, row}, a);
  }

  @Override
  public void collate(JsonlDataset.Example[] batch, Map<String, Tensor> out) {
    out.put(Qwen2VlInputs.PIXELS, patches(batch, row));
    List<List<long[]>> perExample = new ArrayList<>();
    List<long[]> all = new ArrayList<>();
    for (JsonlDataset.Example e : batch) {
      List<long[]> grids = Qwen2VlInputs.grids((long[]) e.values().get(Qwen2VlInputs.GRIDS));
      perExample.add(grids);
      all.addAll(grids);
    }
    Tensor ids = out.get("input_ids");
    int seq = (int) ids.shape()[1];
    out.put(
        "mrope_position_ids",
        Tensor.ofLongs(
            new long[] {3, batch.length, seq},
            vision.mropePositions(
                ids.longs(), out.get("attention_mask").longs(), seq, perExample)));
    long[] positions = vision.visionPositions(all);
    out.put("vision_position_ids", Tensor.ofLongs(new long[] {positions.length / 2, 2}, positions));
    int[] cu = Qwen2VlInputs.cuSeqlens(all);
    out.put("cu_seqlens", Tensor.ofInts(new long[] {cu.length}, cu));
  }
}
