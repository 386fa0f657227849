package dev.loraort.trainer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Central finite differences of the graph's loss agree with its gradient outputs. */
class GradientCheckTest {
  @ParameterizedTest
  @ValueSource(strings = {"tiny-roberta-cls", "tiny-gpt2-lm"})
  void lossDifferencesMatchLoraGradients(String id) throws IOException {
    Manifest m = Manifest.read(Path.of("../onnx-models", id));
    Fixture fx = Fixture.read(m.dir());
    try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false)) {
      List<String> names = new ArrayList<>();
      for (Manifest.LoraModule mod : m.lora().modules()) {
        names.add(TensorNames.loraA(mod.name()));
        names.add(TensorNames.loraB(mod.name()));
      }
      Map<String, Tensor> grads =
          g.train().run(fx.trainFeeds(), names.stream().map(TensorNames::grad).toList());
      // the 6 largest gradient entries, where the difference quotient is far above float32 noise
      record Entry(String name, int index, double grad) {}
      List<Entry> entries = new ArrayList<>();
      for (String n : names) {
        float[] gv = grads.get(TensorNames.grad(n)).floats();
        for (int i = 0; i < gv.length; i++) {
          entries.add(new Entry(n, i, gv[i]));
        }
      }
      entries.sort(Comparator.comparingDouble((Entry e) -> -Math.abs(e.grad())));
      double h = 2e-3;
      for (Entry e : entries.subList(0, 6)) {
        double up = loss(g, fx, e.name(), e.index(), h);
        double down = loss(g, fx, e.name(), e.index(), -h);
        double fd = (up - down) / (2 * h);
        assertThat(Math.abs(fd - e.grad()))
            .as("%s[%d]: finite difference %s vs graph %s", e.name(), e.index(), fd, e.grad())
            .isLessThan(2e-4 + 2e-2 * Math.abs(e.grad()));
      }
    }
  }

  private static double loss(ModelGraphs g, Fixture fx, String name, int index, double delta) {
    Map<String, Tensor> feeds = new LinkedHashMap<>(fx.trainFeeds());
    Tensor t = feeds.get(name).copy();
    t.floats()[index] += (float) delta;
    feeds.put(name, t);
    return g.train().run(feeds, List.of(TensorNames.LOSS)).get(TensorNames.LOSS).floats()[0];
  }
}
