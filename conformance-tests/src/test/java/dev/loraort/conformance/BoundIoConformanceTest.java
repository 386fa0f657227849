package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.kernels.BoundRun;
import dev.loraort.trainer.conformance.ConformanceReport;
import dev.loraort.trainer.conformance.ConformanceRun;
import dev.loraort.trainer.conformance.GoldenTrace;
import dev.loraort.trainer.graph.ExecutionDevice;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Golden traces trained with the train graph's inputs and outputs bound once (--io bound) on the
 * CPU EP: they conform, and every number of the report equals the copied run's (same kernels, same
 * inputs: bit-identical training).
 */
class BoundIoConformanceTest {
  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({
    "tiny-roberta-cls, fmlora",
    "tiny-roberta-cls, lora-sam",
    "tiny-gpt2-lm, eflat-lora",
    "tiny-gpt2-lm, bi-lora",
    "tiny-qwen2vl, lora"
  })
  void boundTrainingEqualsCopiedTraining(String model, String method) throws IOException {
    assumeTrue(BoundRun.unavailableReason() == null, "no binding library in this build");
    Manifest m = Manifest.read(Path.of("../onnx-models", model));
    GoldenTrace g = GoldenTrace.read(GoldenTraceTest.GOLDEN.resolve(model).resolve(method));
    ConformanceReport copied = ConformanceRun.run(m, g, Golden.config(g), ExecutionDevice.CPU, 1);
    ConformanceReport bound =
        ConformanceRun.run(
            m, g, Golden.config(g), ExecutionDevice.CPU.withIo(ExecutionDevice.Io.BOUND), 1);
    assertThat(bound.conforms()).as(bound.render()).isTrue();
    assertThat(bound.render()).isEqualTo(copied.render());
  }
}
