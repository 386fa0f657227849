import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.BatchSource;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.PrefetchedBatches;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What building a real-size CLIP batch costs the step, read directly and through
 * PrefetchedBatches: 32 images of 3 x 224 x 224 (ViT-B/16) with 77-token captions, from JSONL,
 * collated by the trainer's Batcher. A sleep of STEP_MS stands in for the graph run (on the CUDA EP
 * the step thread waits in ONNX Runtime meanwhile). Prints the median wait for a batch of 40 steps
 * after 10, each way, in one JVM:
 *
 * <pre>
 * mvn -q -B -DskipTests package
 * java -cp "trainer/target/lora-trainer.jar:trainer/target/lib/*" scripts/bench/BatchBuildProbe.java [STEP_MS]
 * </pre>
 *
 * The model directory is onnx-models/tiny-clip's manifest with the image size set to 224 (only the
 * manifest is read: no graph runs).
 */
public class BatchBuildProbe {
  public static void main(String[] a) throws Exception {
    long stepMillis = a.length > 0 ? Long.parseLong(a[0]) : 60;
    Path dir = Files.createTempDirectory("clip224");
    JsonObject manifest =
        JsonParser.parseString(Files.readString(Path.of("onnx-models/tiny-clip/manifest.json")))
            .getAsJsonObject();
    for (var input : manifest.getAsJsonArray("inputs")) {
      JsonObject o = input.getAsJsonObject();
      if (o.get("name").getAsString().equals("pixel_values")) {
        JsonArray shape = new JsonArray();
        for (Object d : new Object[] {"batch", 3, 224, 224}) {
          if (d instanceof String s) {
            shape.add(s);
          } else {
            shape.add((Integer) d);
          }
        }
        o.add("shape", shape);
      }
    }
    Files.writeString(dir.resolve("manifest.json"), manifest.toString());
    Manifest m = Manifest.read(dir);
    Path data = dir.resolve("clip224.jsonl");
    SplittableRandom r = new SplittableRandom(0);
    try (BufferedWriter w = Files.newBufferedWriter(data)) {
      for (int row = 0; row < 64; row++) { // as scripts/bench/real_size_models.sh writes CLIP rows
        StringBuilder s = new StringBuilder("{\"input_ids\": [49406");
        for (int i = 0; i < 75; i++) {
          s.append(", ").append(r.nextInt(49405));
        }
        s.append(", 49407], \"pixel_values\": [");
        for (int i = 0; i < 3 * 224 * 224; i++) {
          s.append(i == 0 ? "" : ", ")
              .append(String.format(Locale.ROOT, "%.3f", r.nextDouble() * 4 - 2));
        }
        w.write(s.append("]}\n").toString());
      }
    }
    List<JsonlDataset.Example> examples = JsonlDataset.read(data, m);
    int warm = 10;
    int timed = 40;
    double direct = medianWait(new Batcher(examples, m, 32, 0), warm + timed, warm, stepMillis);
    double ahead;
    try (PrefetchedBatches p = new PrefetchedBatches(new Batcher(examples, m, 32, 0), warm + timed)) {
      ahead = medianWait(p, warm + timed, warm, stepMillis);
    }
    System.out.printf(
        Locale.ROOT,
        "CLIP 224 batch of 32 (%d MB of pixels), step work %d ms: median wait for the batch %.2f ms"
            + " read directly, %.2f ms built ahead%n",
        32 * 3 * 224 * 224 * 4 / 1_000_000,
        stepMillis,
        direct,
        ahead);
  }

  private static double medianWait(BatchSource src, int steps, int warm, long stepMillis)
      throws InterruptedException {
    List<Double> waits = new ArrayList<>();
    for (int i = 0; i < steps; i++) {
      long t0 = System.nanoTime();
      Map<String, Tensor> batch = src.next();
      long t1 = System.nanoTime();
      if (batch.get("pixel_values").size() != 32 * 3 * 224 * 224) {
        throw new IllegalStateException("unexpected batch " + batch.get("pixel_values"));
      }
      if (i >= warm) {
        waits.add((t1 - t0) / 1e6);
      }
      Thread.sleep(stepMillis);
    }
    Collections.sort(waits);
    return waits.get(waits.size() / 2);
  }
}
