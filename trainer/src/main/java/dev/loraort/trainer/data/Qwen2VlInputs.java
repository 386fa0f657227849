package dev.loraort.trainer.data;

import com.google.gson.JsonObject;
import dev.loraort.artifacts.manifest.Manifest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The inputs of a Qwen2-VL train graph that the host computes, because the Hugging Face forward
 * derives them with data-dependent code that does not trace (export-recipe.md, problem 4): the
 * mrope positions of the text tokens, each image patch's (row, column) and the patch offsets of the
 * images ({@code cu_seqlens}). Computed as transformers' get_rope_index, get_vision_position_ids
 * and get_vision_cu_seqlens do for images (the exporter's fixture batch is the test).
 *
 * @param imageToken the token id that stands for one merged patch in input_ids
 * @param merge the vision config's spatial_merge_size (patches merged per side into one token)
 */
public record Qwen2VlInputs(long imageToken, int merge) {
  /** Graph inputs computed here, never read from data. */
  public static final Set<String> COMPUTED =
      Set.of("mrope_position_ids", "vision_position_ids", "cu_seqlens");

  /** The image patches of a batch, concatenated: [patches, patch values]. */
  public static final String PIXELS = "pixel_values";

  /** The data field with each image's patch grid (t, h, w), one triple per image of the example. */
  public static final String GRIDS = "image_grid_thw";

  /**
   * @param m a manifest
   * @return true if its graphs take Qwen2-VL's host-computed inputs
   */
  public static boolean appliesTo(Manifest m) {
    return m.inputs().stream().anyMatch(s -> COMPUTED.contains(s.name()));
  }

  /**
   * Reads the token id and merge size from the manifest's config.
   *
   * @param m a Qwen2-VL manifest
   * @return the settings
   * @throws IllegalArgumentException if the config lacks image_token_id or
   *     vision_config.spatial_merge_size; the message names the manifest
   */
  public static Qwen2VlInputs of(Manifest m) {
    JsonObject c = m.hfConfig();
    JsonObject vision = c.has("vision_config") ? c.getAsJsonObject("vision_config") : null;
    if (!c.has("image_token_id") || vision == null || !vision.has("spatial_merge_size")) {
      throw new IllegalArgumentException(
          m.dir().resolve(Manifest.FILE)
              + ": source.config needs image_token_id and vision_config.spatial_merge_size for"
              + " Qwen2-VL inputs");
    }
    return new Qwen2VlInputs(
        c.get("image_token_id").getAsLong(), vision.get("spatial_merge_size").getAsInt());
  }

  /**
   * @param flat (t, h, w) triples one after another, as a data line's image_grid_thw holds them
   * @return one (t, h, w) per image
   */
  public static List<long[]> grids(long[] flat) {
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i + 2 < flat.length; i += 3) {
      out.add(new long[] {flat[i], flat[i + 1], flat[i + 2]});
    }
    return out;
  }

  /**
   * @param grid an image's (t, h, w) in patches
   * @return its patches: t h w
   */
  public static long patches(long[] grid) {
    return grid[0] * grid[1] * grid[2];
  }

  /**
   * @param grid an image's (t, h, w) in patches
   * @return the tokens it takes in input_ids: t h w / merge^2
   */
  public long tokens(long[] grid) {
    return grid[0] * (grid[1] / merge) * (grid[2] / merge);
  }

  /**
   * The 3-D rotary positions (temporal, height, width) of every token: text tokens count up on all
   * three axes; an image's tokens take its merged grid coordinates offset by the position where the
   * image starts, and the text after it resumes one past the largest position so far. Padding
   * (attention_mask 0) gets 0.
   *
   * @param ids input_ids, [batch, seq] flat
   * @param mask attention_mask, same shape
   * @param seq the sequence length
   * @param grids per example, its images' (t, h, w) in order of appearance
   * @return [3, batch, seq] flat
   * @throws IllegalArgumentException if an example's image tokens do not match its grids (the
   *     reader checks each line with this, so batches never fail here)
   */
  public long[] mropePositions(long[] ids, long[] mask, int seq, List<List<long[]>> grids) {
    int batch = grids.size();
    long[] out = new long[3 * batch * seq];
    for (int b = 0; b < batch; b++) {
      int[] at = new int[seq]; // the sequence index of each attended token
      int n = 0;
      for (int i = 0; i < seq; i++) {
        if (mask[b * seq + i] != 0) {
          at[n++] = i;
        }
      }
      long next = 0; // the position the next text token takes
      int k = 0;
      for (long[] g : grids.get(b)) {
        while (k < n && ids[b * seq + at[k]] != imageToken) {
          put(out, batch, seq, b, at[k++], next, next, next);
          next++;
        }
        long gh = g[1] / merge;
        long gw = g[2] / merge;
        long need = tokens(g);
        if (n - k < need) {
          throw new IllegalArgumentException(
              "fewer attended image tokens than the image grids need");
        }
        long top = 0;
        for (long t = 0; t < g[0]; t++) {
          for (long h = 0; h < gh; h++) {
            for (long w = 0; w < gw; w++) {
              if (ids[b * seq + at[k]] != imageToken) {
                throw new IllegalArgumentException(
                    "an image's " + need + " tokens are not contiguous");
              }
              put(out, batch, seq, b, at[k++], next + t, next + h, next + w);
              top = Math.max(top, Math.max(t, Math.max(h, w)));
            }
          }
        }
        next += top + 1;
      }
      while (k < n) {
        if (ids[b * seq + at[k]] == imageToken) {
          throw new IllegalArgumentException("more image tokens than the image grids account for");
        }
        put(out, batch, seq, b, at[k++], next, next, next);
        next++;
      }
    }
    return out;
  }

  private static void put(long[] out, int batch, int seq, int b, int i, long t, long h, long w) {
    int plane = batch * seq;
    out[b * seq + i] = t;
    out[plane + b * seq + i] = h;
    out[2 * plane + b * seq + i] = w;
  }

  /**
   * Each patch's (row, column) in its image, in the order the patches are stored: frame by frame,
   * merge x merge blocks row-major, and row-major within a block.
   *
   * @param grids every image of the batch, in order
   * @return [patches, 2] flat
   */
  public long[] visionPositions(List<long[]> grids) {
    long total = 0;
    for (long[] g : grids) {
      total += patches(g);
    }
    long[] out = new long[Math.toIntExact(2 * total)];
    int k = 0;
    for (long[] g : grids) {
      for (long t = 0; t < g[0]; t++) {
        for (long hb = 0; hb < g[1] / merge; hb++) {
          for (long wb = 0; wb < g[2] / merge; wb++) {
            for (int i = 0; i < merge; i++) {
              for (int j = 0; j < merge; j++) {
                out[k++] = hb * merge + i;
                out[k++] = wb * merge + j;
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Where each frame's patches start and end in the concatenated patches (the vision attention
   * stays within a frame).
   *
   * @param grids every image of the batch, in order
   * @return frames + 1 offsets, starting at 0
   */
  public static int[] cuSeqlens(List<long[]> grids) {
    int frames = 0;
    for (long[] g : grids) {
      frames += (int) g[0];
    }
    int[] out = new int[frames + 1];
    int k = 1;
    for (long[] g : grids) {
      for (long t = 0; t < g[0]; t++) {
        out[k] = Math.toIntExact(out[k - 1] + g[1] * g[2]);
        k++;
      }
    }
    return out;
  }
}
