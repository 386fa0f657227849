package dev.loraort.trainer.graph;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Runs a model directory's fixture through its train and infer graphs on this machine's ONNX
 * Runtime and compares every output with PyTorch's values (allclose with the fixture's tolerances).
 */
public final class FixtureCheck {
  /**
   * One compared output.
   *
   * @param graph train or infer
   * @param name output name
   * @param maxAbs largest absolute difference
   * @param relToMax maxAbs over the reference's largest |value|
   * @param ok allclose(rtol, atol) and finite
   */
  public record Row(String graph, String name, double maxAbs, double relToMax, boolean ok) {}

  private FixtureCheck() {}

  /**
   * @param m the manifest
   * @param device where to run
   * @param threads CPU threads (0: default)
   * @return one row per output (loss, every gradient, every infer output)
   * @throws IOException if the fixture cannot be read
   */
  public static List<Row> run(Manifest m, ExecutionDevice device, int threads) throws IOException {
    Fixture fx = Fixture.read(m.dir());
    List<Row> rows = new ArrayList<>();
    try (ModelGraphs g = ModelGraphs.open(m, device, threads, false)) {
      List<String> outs = new ArrayList<>();
      outs.add(TensorNames.LOSS);
      fx.expected().keySet().stream().filter(k -> k.startsWith("grad.")).forEach(outs::add);
      Map<String, Tensor> got = g.train().run(fx.trainFeeds(), outs);
      for (String o : outs) {
        rows.add(compare("train", o, got.get(o), fx.expected().get(o), fx));
      }
    }
    try (GraphSession inf = ModelGraphs.openInfer(m, device, threads)) {
      List<String> outs = m.inferOutputs().stream().map(Manifest.IoSpec::name).toList();
      Map<String, Tensor> got = inf.run(fx.inferFeeds(m), outs);
      for (String o : outs) {
        rows.add(compare("infer", o, got.get(o), fx.expected().get(Fixture.INFER + o), fx));
      }
    }
    return rows;
  }

  private static Row compare(String graph, String name, Tensor got, Tensor want, Fixture fx) {
    if (want == null) {
      throw new IllegalStateException(
          "fixture has no expected value for " + graph + " output " + name);
    }
    if (!Arrays.equals(got.shape(), want.shape())) {
      return new Row(
          graph,
          name + " shape " + Arrays.toString(got.shape()) + " vs " + Arrays.toString(want.shape()),
          Double.NaN,
          Double.NaN,
          false);
    }
    float[] a = got.floats();
    float[] b = want.floats();
    double maxAbs = 0;
    double refMax = 0;
    boolean ok = true;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs((double) a[i] - b[i]);
      ok &= Double.isFinite(a[i]) && d <= fx.atol() + fx.rtol() * Math.abs(b[i]);
      maxAbs = Math.max(maxAbs, d);
      refMax = Math.max(refMax, Math.abs(b[i]));
    }
    return new Row(graph, name, maxAbs, maxAbs / (refMax + 1e-30), ok);
  }
}
