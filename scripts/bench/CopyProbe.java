import dev.loraort.artifacts.Tensor;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.GraphSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The trainer's host copies (GraphSession.copyNanos: feeds into ONNX Runtime tensors, outputs back
 * to fresh Java arrays) at gpt2-large's LoRA size, on the CPU EP with a graph that computes almost
 * nothing (copy_probe_graph.py). Prints the copy time per run, averaged over each block of 30 runs,
 * for 40 blocks (2.9 MB of fresh output arrays per run): compare a JVM whose heap is first touched
 * by these allocations with one whose heap is touched up front:
 *
 * <pre>
 * python3 scripts/bench/copy_probe_graph.py /tmp/copy_probe.onnx
 * CP="trainer/target/lora-trainer.jar:trainer/target/lib/*"
 * java -Xms2g -cp "$CP" scripts/bench/CopyProbe.java /tmp/copy_probe.onnx
 * java -Xms2g -XX:+AlwaysPreTouch -cp "$CP" scripts/bench/CopyProbe.java /tmp/copy_probe.onnx [cpu|cuda] [copy|bound] [IDLE_MS] [BLOCKS]
 * </pre>
 *
 * (-Xms2g: the initial heap the JVM picks on a 128 GB machine such as the GPU benchmark's.)
 *
 * <p>Optional arguments pick the device and the input/output mode, e.g. {@code cuda bound} on the
 * GPU machine (one pinned copy each way per run, as a CUDA-graph step has), to see whether the
 * bench's "copies" there are the copies themselves or something beside them in a step. This
 * machine, {@code cpu bound}, 2 cores with a study running beside: 0.43 to 2.3 ms per block, 0.45
 * at its quietest. Run AA, on the H100 host: 0.86 to 1.74 ms per block, mostly 0.9 to 1.1, both modes.
 *
 * <p>IDLE_MS sleeps that long before each run, as a step's host thread waits while the GPU computes
 * (GPT-2 large: about 125 ms), to see whether copies made after such a wait (cold caches, a core
 * clocked down) cost more than back-to-back ones: here 0.84 to 2.03 ms per block with 100 against
 * 0.36 to 1.01 without; on the H100 host (run AA) 1.4 to 1.8 ms settled with 125 against 0.85 to 1.05.
 * BLOCKS (default 40) shortens a run with a long IDLE_MS.
 */
public class CopyProbe {
  public static void main(String[] a) throws InterruptedException {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    List<String> outputs = new ArrayList<>(List.of("loss"));
    for (int layer = 0; layer < 36; layer++) {
      feeds.put("lora_A_" + layer, Tensor.ofFloats(new long[] {4, 1280}, new float[4 * 1280]));
      feeds.put("lora_B_" + layer, Tensor.ofFloats(new long[] {3840, 4}, new float[3840 * 4]));
      outputs.add("grad_lora_A_" + layer);
      outputs.add("grad_lora_B_" + layer);
    }
    feeds.put("input_ids", Tensor.ofLongs(new long[] {8, 512}, new long[8 * 512]));
    ExecutionDevice device = ExecutionDevice.parse(a.length > 1 ? a[1] : "cpu", false);
    if (a.length > 2) {
      device = device.withIo(ExecutionDevice.Io.valueOf(a[2].toUpperCase(Locale.ROOT)));
    }
    long idleMillis = a.length > 3 ? Long.parseLong(a[3]) : 0;
    int blocks = a.length > 4 ? Integer.parseInt(a[4]) : 40;
    try (GraphSession s = GraphSession.open(Path.of(a[0]), device, 1)) {
      StringBuilder line = new StringBuilder("copies per run (ms), blocks of 30 runs:");
      for (int block = 0; block < blocks; block++) {
        long c0 = s.copyNanos();
        for (int i = 0; i < 30; i++) {
          Thread.sleep(idleMillis);
          s.run(feeds, outputs);
        }
        line.append(String.format(Locale.ROOT, " %.2f", (s.copyNanos() - c0) / 30e6));
      }
      System.out.println(line);
    }
  }
}
