package dev.loraort.trainer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.builder.Prepare;
import dev.loraort.builder.PrepareConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelGraphsTest {
  private static final Path TINY = Path.of("../onnx-models/tiny-roberta-cls");
  @TempDir Path dir;

  private Path copyWithManifest(String from, String to) throws IOException {
    for (String f : new String[] {"train.onnx", "infer.onnx", "trainable_init.safetensors"}) {
      Files.copy(TINY.resolve(f), dir.resolve(f));
    }
    Files.writeString(
        dir.resolve("manifest.json"),
        Files.readString(TINY.resolve("manifest.json")).replace(from, to));
    return dir;
  }

  @Test
  void opensAndChecksEveryCommittedModel() throws IOException {
    for (String id :
        new String[] {
          "tiny-roberta-cls", "tiny-bert-cls", "tiny-gpt2-lm", "tiny-clip", "tiny-qwen2vl"
        }) {
      Manifest m = Manifest.read(Path.of("../onnx-models", id));
      try (ModelGraphs g = ModelGraphs.open(m, ExecutionDevice.CPU, 1, true);
          GraphSession inf = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
        assertThat(g.train().io(true)).containsKey("loss");
        assertThat(g.rwp().io(false)).containsKey("rwp_sigma");
        assertThat(inf.io(true)).containsKey("logits");
      }
    }
  }

  @Test
  void theLossGraphIsTheForwardAloneAndLeavesNothingBehind() throws IOException {
    Path d = copyWithManifest("\"in\": 64", "\"in\": 64");
    Manifest m = Manifest.read(d);
    try (GraphSession loss = ModelGraphs.openLoss(m, ExecutionDevice.CPU, 1)) {
      assertThat(loss.io(true)).containsOnlyKeys("loss");
    }
    try (java.util.stream.Stream<Path> files = Files.list(d)) {
      assertThat(files.map(f -> f.getFileName().toString())).noneMatch(f -> f.contains("loss"));
    }
  }

  @Test
  void cutGraphsOfKilledProcessesAreRemovedAndThoseOfLiveOnesKept() throws IOException {
    Path d = copyWithManifest("\"in\": 64", "\"in\": 64");
    // above Linux's largest process id: no such process runs
    Path orphan = Files.writeString(d.resolve(ForwardOnly.PREFIX + "999999999-1.onnx"), "x");
    Path live =
        Files.writeString(
            d.resolve(ForwardOnly.PREFIX + ProcessHandle.current().pid() + "-2.onnx"), "x");
    try (GraphSession loss = ModelGraphs.openLoss(Manifest.read(d), ExecutionDevice.CPU, 1)) {
      assertThat(loss.io(true)).containsOnlyKeys("loss");
    }
    assertThat(orphan).doesNotExist();
    assertThat(live).exists();
  }

  @Test
  void manifestThatDisagreesWithTheGraphNamesTensorAndShapes() throws IOException {
    Manifest m = Manifest.read(copyWithManifest("\"in\": 64", "\"in\": 65"));
    assertThatThrownBy(() -> ModelGraphs.open(m, ExecutionDevice.CPU, 1, false))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining(
            "train.onnx: input roberta.encoder.layer.0.attention.self.query.lora_A.weight")
        .hasMessageContaining("[lora_r, 64]")
        .hasMessageContaining("manifest.json says F32 [lora_r, 65]");
  }

  @Test
  void missingInputAndMissingGraphAreNamed() throws IOException {
    Manifest m =
        Manifest.read(copyWithManifest("\"name\": \"attention_mask\"", "\"name\": \"attn_mask\""));
    assertThatThrownBy(() -> ModelGraphs.open(m, ExecutionDevice.CPU, 1, false))
        .hasMessageContaining("train.onnx: no input attn_mask");
    Files.delete(dir.resolve("train.onnx"));
    assertThatThrownBy(() -> ModelGraphs.open(Manifest.read(dir), ExecutionDevice.CPU, 1, false))
        .hasMessageContaining(dir.resolve("train.onnx") + " not found");
  }

  @Test
  void cudaWithoutAGpuIsAClearError() throws IOException {
    assumeFalse(Files.exists(Path.of("/dev/nvidia0")), "a GPU is present: the CUDA EP may load");
    Manifest m = Manifest.read(TINY);
    assertThatThrownBy(() -> ModelGraphs.open(m, ExecutionDevice.parse("cuda:0", true), 1, false))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining("CUDA execution provider could not be loaded")
        .hasMessageContaining("use --device cpu");
  }

  @Test
  void deviceSpecsParse() {
    assertThat(ExecutionDevice.parse("cuda:1", false))
        .isEqualTo(
            new ExecutionDevice(
                true,
                1,
                false,
                ExecutionDevice.Precision.FP32,
                ExecutionDevice.Kernels.AUTO,
                ExecutionDevice.Io.AUTO,
                Map.of()));
    assertThat(ExecutionDevice.parse("CPU", true)).isEqualTo(ExecutionDevice.CPU);
    assertThatThrownBy(() -> ExecutionDevice.parse("tpu", true))
        .hasMessageContaining("expected cpu, cuda or cuda:N");
  }

  @Test
  void cudaOptionsNeedCudaAndAreKeptSorted() {
    assertThatThrownBy(
            () -> ExecutionDevice.CPU.withCudaOptions(Map.of("gpu_mem_limit", "1073741824")))
        .hasMessageContaining("--cuda-option [gpu_mem_limit] needs --device cuda");
    ExecutionDevice d =
        ExecutionDevice.parse("cuda", true)
            .withCudaOptions(Map.of("z_option", "1", "a_option", "2"))
            .withIo(ExecutionDevice.Io.BOUND);
    assertThat(d.cudaOptions().keySet()).containsExactly("a_option", "z_option");
    assertThat(d.toString()).isEqualTo("cuda:0 (tf32) {a_option=2, z_option=1}");
  }

  @Test
  void theFusedGraphIsChosenOnCudaOrWhenAsked() {
    ExecutionDevice cuda = ExecutionDevice.parse("cuda", true);
    assertThat(cuda.wantsFused(true)).isTrue();
    assertThat(cuda.wantsFused(false)).isFalse();
    assertThat(cuda.withPrecision(ExecutionDevice.Precision.FP16).wantsFused(true)).isFalse();
    assertThat(cuda.withPrecision(ExecutionDevice.Precision.BF16).wantsFused(true)).isTrue();
    assertThat(cuda.withKernels(ExecutionDevice.Kernels.PLAIN).wantsFused(true)).isFalse();
    assertThat(ExecutionDevice.CPU.wantsFused(true)).isFalse();
    assertThat(ExecutionDevice.CPU.withKernels(ExecutionDevice.Kernels.FUSED).wantsFused(true))
        .isTrue();
  }

  @Test
  void mixedPrecisionNeedsCudaAndItsGraph() {
    assertThatThrownBy(() -> ExecutionDevice.CPU.withPrecision(ExecutionDevice.Precision.BF16))
        .hasMessageContaining("--bf16 needs --device cuda")
        .hasMessageContaining("no bfloat16 MatMul");
    ExecutionDevice bf16 =
        ExecutionDevice.parse("cuda", true).withPrecision(ExecutionDevice.Precision.BF16);
    assertThat(bf16.toString()).isEqualTo("cuda:0 (bf16 mixed precision)");
    // the exporter's directory has no bf16 graph: named before any session is opened
    assertThatThrownBy(() -> ModelGraphs.open(Manifest.read(TINY), bf16, 1, false))
        .isInstanceOf(GraphException.class)
        .hasMessageContaining("graphs has no 'train_bf16' entry")
        .hasMessageContaining("lora-trainer prepare writes it");
    assertThatThrownBy(() -> ModelGraphs.open(Manifest.read(TINY), bf16, 1, true))
        .hasMessageContaining("no mixed-precision version; drop --bf16");
  }

  @Test
  void fp16OnAPreparedDirectoryPointsToBf16() throws IOException {
    Path prepared = dir.resolve("prepared");
    Prepare.run(
        PrepareConfig.defaults(TINY.resolve("plain/model.onnx"), prepared, "seq-cls").toBuilder()
            .id("tiny")
            .build());
    ExecutionDevice fp16 =
        ExecutionDevice.parse("cuda", true).withPrecision(ExecutionDevice.Precision.FP16);
    assertThatThrownBy(() -> ModelGraphs.open(Manifest.read(prepared), fp16, 1, false))
        .hasMessageContaining("graphs has no 'train_fp16' entry")
        .hasMessageContaining("train with --bf16");
  }
}
