import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.params.LoraParams;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Measures one ONNX Runtime session-option variant on a model's train graph on the CUDA EP: the
 * median of 30 runs after 10 on one batch of 32 (rank 8), with the options the trainer's
 * GraphSession used before its memory-pattern change ("base") or one change to them. Run one JVM
 * per variant and watch the process's GPU memory from outside (BENCHMARKS.md, run F):
 *
 * <pre>
 * java $ORT_JAVA_OPTS -cp "$CP" scripts/bench/SessionOptionsProbe.java MODEL_DIR VARIANT DATA.jsonl
 * </pre>
 *
 * VARIANT: base, static (batch, seq and lora_r fixed by free-dimension overrides), nopattern
 * (memory pattern off), initalloc (initializers outside the arena), extended (EXTENDED instead of
 * ALL graph optimizations).
 */
public class SessionOptionsProbe {
  public static void main(String[] a) throws Exception {
    Path dir = Path.of(a[0]);
    String variant = a[1];
    Manifest m = Manifest.read(dir);
    Map<String, Tensor> feeds =
        new LinkedHashMap<>(new Batcher(JsonlDataset.read(Path.of(a[2]), m), m, 32, 0).next());
    feeds.putAll(LoraParams.init(m, 8, 2f, new SplittableRandom(0)).feeds());
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(0)) {
      so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      cuda.add("use_tf32", "1");
      cuda.add("arena_extend_strategy", "kSameAsRequested");
      switch (variant) {
        case "base" -> {}
        case "static" -> {
          so.setSymbolicDimensionValue("batch", feeds.get("input_ids").shape()[0]);
          so.setSymbolicDimensionValue("seq", feeds.get("input_ids").shape()[1]);
          so.setSymbolicDimensionValue("lora_r", 8);
        }
        case "nopattern" -> so.setMemoryPatternOptimization(false);
        case "initalloc" -> so.addConfigEntry("session.use_device_allocator_for_initializers", "1");
        case "extended" -> so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
        default -> throw new IllegalArgumentException("unknown variant " + variant);
      }
      so.addCUDA(cuda);
      try (OrtSession s = env.createSession(dir.resolve("train.onnx").toString(), so)) {
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
          Tensor t = e.getValue();
          in.put(
              e.getKey(),
              switch (t.dtype()) {
                case F32 -> OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
                case I64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape());
                default -> OnnxTensor.createTensor(env, IntBuffer.wrap(t.ints()), t.shape());
              });
        }
        List<Double> ms = new ArrayList<>();
        float loss = 0;
        for (int i = 0; i < 40; i++) {
          long t0 = System.nanoTime();
          try (OrtSession.Result r = s.run(in)) {
            loss = ((OnnxTensor) r.get("loss").orElseThrow()).getFloatBuffer().get(0);
          }
          if (i >= 10) {
            ms.add((System.nanoTime() - t0) / 1e6);
          }
        }
        Collections.sort(ms);
        System.out.printf(
            Locale.ROOT,
            "%s: median run %.2f ms (30 runs after 10), loss %.6f%n",
            variant,
            ms.get(15),
            loss);
        in.values().forEach(OnnxTensor::close);
      }
    }
  }
}
