package dev.loraort.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA kernels' own source, run on the CPU by {@code src/test/c/cuda_emulation.c} (one thread
 * per CUDA thread, barriers for {@code __syncthreads} and the warp shuffles) and compared with the
 * CPU kernels, launched as the library launches them: every kernel's indexing, reductions and
 * branches are checked on a machine without a GPU. Needs the C compiler that builds the library.
 */
class CudaEmulationTest {
  private static final Path C = Path.of("src/main/c");

  @Test
  void cudaKernelsComputeWhatTheCpuKernelsCompute(@TempDir Path dir) throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/cc")), "no C compiler at /usr/bin/cc");
    // the CUDA source as a file: a program prints the string NVRTC compiles
    Path print = dir.resolve("print.c");
    Files.writeString(
        print,
        "#include <stdio.h>\n"
            + "extern const char* const LORAORT_CUDA_SOURCE;\n"
            + "int main(void) { fputs(LORAORT_CUDA_SOURCE, stdout); return 0; }\n");
    run(
        dir,
        "cc",
        "-o",
        "print",
        print.toString(),
        C.resolve("kernels_cuda.c").toAbsolutePath().toString());
    String source = run(dir, dir.resolve("print").toString());
    assertThat(source).contains("__global__");
    // C has no extern "C" (every kernel is C linkage already)
    Files.writeString(dir.resolve("kernels_cu.c"), source.replace("extern \"C\" ", ""));
    run(
        dir,
        "cc",
        "-std=gnu11",
        "-O1",
        "-I" + dir,
        "-I" + C.toAbsolutePath(),
        "-o",
        "emulation",
        Path.of("src/test/c/cuda_emulation.c").toAbsolutePath().toString(),
        C.resolve("kernels_cpu.c").toAbsolutePath().toString(),
        "-lpthread",
        "-lm");
    String report = run(dir, dir.resolve("emulation").toString());
    System.out.print(report);
    assertThat(report).contains("0 failed").doesNotContain("FAIL");
    assertThat(report.lines().filter(l -> l.startsWith("ok"))).hasSizeGreaterThan(40);
  }

  /** Runs a command in dir; returns its output, failing the test if it exits non-zero. */
  private static String run(Path dir, String... command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(List.of(command))
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).as(String.join(" ", command)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + ":\n" + out).isZero();
    return out;
  }
}
