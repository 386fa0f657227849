package dev.loraort.builder.autodiff;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.loraort.builder.ir.Attr;
import dev.loraort.builder.ir.Graph;
import dev.loraort.builder.ir.Node;
import dev.loraort.builder.ir.OnnxModels;
import dev.loraort.builder.ir.WeightsFile;
import dev.loraort.kernels.FusedKernels;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small graph of the kernel library's ops, written to a file and run on ONNX Runtime's CPU or
 * CUDA EP with the library registered: what the kernel tests share.
 */
final class LibraryGraph {
  private LibraryGraph() {}

  /**
   * One input's values (float[] or long[]) and shape.
   *
   * @param values float[] or long[]
   * @param shape its shape
   */
  record Feed(Object values, long[] shape) {}

  /**
   * @param g the graph
   * @return its model file, in a new temporary directory
   * @throws IOException if it cannot be written
   */
  static Path write(Graph g) throws IOException {
    Path dir = Files.createTempDirectory("library-graph");
    // deleted at exit in the reverse order of these calls: the files, then their directory
    dir.toFile().deleteOnExit();
    Path model = dir.resolve("m.onnx");
    model.toFile().deleteOnExit();
    dir.resolve("w.bin").toFile().deleteOnExit();
    try (WeightsFile wf = new WeightsFile(dir.resolve("w.bin"))) {
      OnnxModels.write(g, model, wf, Map.of(), "test");
    }
    return model;
  }

  /**
   * @param model a model file
   * @param feeds its inputs
   * @param outputs the float outputs to return
   * @param cuda the CUDA EP (no CPU fallback) and the library's CUDA kernels, else the CPU's
   * @return each output's values
   * @throws OrtException if ONNX Runtime fails
   */
  static Map<String, float[]> run(
      Path model, Map<String, Feed> feeds, List<String> outputs, boolean cuda) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> in = new LinkedHashMap<>();
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      if (cuda) {
        so.addCUDA(0);
        so.addConfigEntry("session.disable_cpu_ep_fallback", "1");
      }
      so.addConfigEntry(FusedKernels.CONFIG_EP, cuda ? "cuda" : "cpu");
      so.addConfigEntry(FusedKernels.CONFIG_DEVICE, "0");
      so.registerCustomOpLibrary(FusedKernels.library().toString());
      for (Map.Entry<String, Feed> f : feeds.entrySet()) {
        Feed v = f.getValue();
        in.put(
            f.getKey(),
            v.values() instanceof long[] l
                ? OnnxTensor.createTensor(env, LongBuffer.wrap(l), v.shape())
                : OnnxTensor.createTensor(env, FloatBuffer.wrap((float[]) v.values()), v.shape()));
      }
      try (OrtSession s = env.createSession(model.toString(), so);
          OrtSession.Result r = s.run(in)) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String o : outputs) {
          FloatBuffer b = ((OnnxTensor) r.get(o).orElseThrow()).getFloatBuffer();
          float[] v = new float[b.remaining()];
          b.get(v);
          out.put(o, v);
        }
        return out;
      }
    } finally {
      in.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * @return a Cast node from one value to another of the given type
   */
  static Node cast(String from, String to, int type) {
    return new Node("Cast", "", to, List.of(from), List.of(to), Map.of("to", Attr.i("to", type)));
  }
}
