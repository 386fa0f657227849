package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.cli.Main;
import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.conformance.ConformanceReport;
import dev.loraort.trainer.conformance.ConformanceRun;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.method.EFlatLora;
import dev.loraort.trainer.method.FlatLoraRwp;
import dev.loraort.trainer.method.MethodSpec;
import dev.loraort.trainer.method.Methods;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java trainer against the PyTorch reference (scripts/reference/reference.py): from the same
 * initial tensors, on the same batches, every step's loss within 1e-5 (relative) and the final LoRA
 * tensors and heads within 1e-4 of their max.
 */
class GoldenTraceTest {
  static final Path GOLDEN = Path.of("golden");

  /** Every registered method with a golden trace, on the two models that have them all. */
  static Stream<Arguments> traces() {
    Stream<Arguments> all =
        Stream.of("tiny-roberta-cls", "tiny-gpt2-lm")
            .flatMap(
                m ->
                    Methods.ALL.stream()
                        .filter(MethodSpec::goldenTrace)
                        .map(x -> Arguments.of(m, x.id())));
    return Stream.concat(
        all,
        Stream.of("tiny-clip", "tiny-qwen2vl")
            .flatMap(m -> Stream.of(Arguments.of(m, "lora"), Arguments.of(m, "eflat-lora"))));
  }

  static ConformanceReport run(String model, GoldenTrace g, TrainConfig cfg) throws IOException {
    return ConformanceRun.run(
        Manifest.read(Path.of("../onnx-models", model)), g, cfg, ExecutionDevice.CPU, 1);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("traces")
  void conformsToTheReference(String model, String method) throws IOException {
    GoldenTrace g = GoldenTrace.read(GOLDEN.resolve(model).resolve(method));
    TrainConfig cfg = Golden.config(g);
    assertThat(cfg.method().id()).isEqualTo(method);
    assertThat(g.rows()).hasSizeGreaterThanOrEqualTo(20);
    ConformanceReport r = run(model, g, cfg);
    assertThat(r.conforms()).as(r.render()).isTrue();
  }

  @Test
  void aDifferentSettingIsCaughtAtItsFirstStep() throws IOException {
    GoldenTrace g = GoldenTrace.read(GOLDEN.resolve("tiny-roberta-cls/eflat-lora"));
    TrainConfig cfg = Golden.config(g);
    EFlatLora.Cfg e = (EFlatLora.Cfg) cfg.method();
    TrainConfig other =
        Golden.withMethod(cfg, new EFlatLora.Cfg(e.rho(), e.rhoSchedule(), 0.5, e.normScope()));
    ConformanceReport r = run("tiny-roberta-cls", g, other);
    assertThat(r.conforms()).isFalse();
    // beta_new first matters when E_hat_2 is applied, at step 3
    assertThat(r.firstDivergence()).isEqualTo(3);
    assertThat(r.render()).contains("first divergence: step 3").contains("DIVERGES");
  }

  /**
   * At the default mu_0 (0.5) the two BAR variants make the same choice at every step of the
   * tiny-gpt2-lm trace (B stays smaller than A, and its gradient larger), so those traces are
   * byte-identical; at mu_0 = 10 they part: their final tensors differ by 32% of the largest, each
   * variant conforms to its own trace and the other variant's run diverges from it.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"lora-obar", "lora-nbar"})
  void barVariantsAreToldApart(String variant) throws IOException {
    String other = variant.equals("lora-obar") ? "lora-nbar" : "lora-obar";
    GoldenTrace own = GoldenTrace.read(GOLDEN.resolve("tiny-gpt2-lm/" + variant + "-mu10"));
    GoldenTrace theirs = GoldenTrace.read(GOLDEN.resolve("tiny-gpt2-lm/" + other + "-mu10"));
    double apart = 0;
    for (var e : own.finals().entrySet()) {
      float[] a = e.getValue().floats();
      float[] b = theirs.finals().get(e.getKey()).floats();
      double max = 0;
      double diff = 0;
      for (int i = 0; i < a.length; i++) {
        max = Math.max(max, Math.abs(a[i]));
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
      }
      apart = Math.max(apart, diff / max);
    }
    assertThat(apart).isGreaterThan(0.1);
    TrainConfig cfg = Golden.config(own);
    assertThat(cfg.method().id()).isEqualTo(variant);
    ConformanceReport r = run("tiny-gpt2-lm", own, cfg);
    assertThat(r.conforms()).as(r.render()).isTrue();
    assertThat(run("tiny-gpt2-lm", own, Golden.config(theirs)).conforms()).isFalse();
  }

  @Test
  void flatLoraAtSigmaZeroIsLora() throws IOException {
    GoldenTrace g = GoldenTrace.read(GOLDEN.resolve("tiny-roberta-cls/lora"));
    ConformanceReport r =
        run("tiny-roberta-cls", g, Golden.withMethod(Golden.config(g), new FlatLoraRwp.Cfg(0)));
    assertThat(r.conforms()).as(r.render()).isTrue();
  }

  @Test
  void theConformCommandReportsAndSetsItsExitStatus() {
    assertThat(
            Main.run(
                "conform",
                "--golden",
                GOLDEN.resolve("tiny-gpt2-lm/lora-sam").toString(),
                "--model",
                "../onnx-models/tiny-gpt2-lm",
                "--threads",
                "1"))
        .isZero();
  }
}
