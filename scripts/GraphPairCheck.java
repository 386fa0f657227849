import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.GraphSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Two versions of one training graph on a model's fixture batch and parameters (CPU EP, one thread),
 * run three times each, with the largest difference over every output: for checking that a graph
 * rewrite (scripts/lora_graphs/graph_rewrites.py) changed no value. A train_rwp graph is fed
 * rwp_sigma 0.3; its noise stream repeats run by run in fresh sessions, so its outputs compare too.
 *
 * <pre>
 * git show REV:onnx-models/tiny-qwen2vl/train_rwp.onnx > /tmp/before.onnx
 * java -cp "trainer/target/lora-trainer.jar:trainer/target/lib/*" scripts/GraphPairCheck.java \
 *     onnx-models/tiny-qwen2vl /tmp/before.onnx onnx-models/tiny-qwen2vl/train_rwp.onnx
 * </pre>
 */
public class GraphPairCheck {
  public static void main(String[] a) throws Exception {
    if (a.length != 3) {
      throw new IllegalArgumentException("usage: GraphPairCheck MODEL_DIR GRAPH_A GRAPH_B");
    }
    Map<String, Tensor> feeds = new LinkedHashMap<>(Fixture.read(Path.of(a[0])).trainFeeds());
    ExecutionDevice cpu = ExecutionDevice.parse("cpu", false);
    try (GraphSession x = GraphSession.open(Path.of(a[1]), cpu, 1);
        GraphSession y = GraphSession.open(Path.of(a[2]), cpu, 1)) {
      if (y.io(false).containsKey(TensorNames.RWP_SIGMA)) {
        feeds.put(TensorNames.RWP_SIGMA, Tensor.scalar(0.3f));
      }
      List<String> outputs = new ArrayList<>(y.io(true).keySet());
      for (int run = 0; run < 3; run++) {
        Map<String, Tensor> ox = x.run(feeds, outputs);
        Map<String, Tensor> oy = y.run(feeds, outputs);
        double worst = 0;
        long values = 0;
        for (String name : outputs) {
          float[] u = ox.get(name).floats();
          float[] v = oy.get(name).floats();
          for (int i = 0; i < u.length; i++) {
            worst = Math.max(worst, Math.abs(u[i] - v[i]));
          }
          values += u.length;
        }
        System.out.printf(
            "run %d: %d outputs, %d values, largest |A - B| %.3g%n",
            run, outputs.size(), values, worst);
      }
    }
  }
}
