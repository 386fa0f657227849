package dev.loraort.trainer.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundledModelTest {
  @Test
  void dataDefaultsToTheSampleAndAMissingFileSaysWhichAndWhy() {
    Path withSample = Path.of("../onnx-models/tiny-roberta-cls");
    assertThat(BundledModel.dataFile(withSample, null))
        .isEqualTo(withSample.resolve("sample/train.jsonl"));
    Path given = Path.of("../onnx-models/tiny-gpt2-lm/manifest.json");
    assertThat(BundledModel.dataFile(withSample, given)).isEqualTo(given);

    Path noSample = Path.of("../onnx-models/tiny-clip");
    assertThatThrownBy(() -> BundledModel.dataFile(noSample, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            noSample.resolve("sample/train.jsonl")
                + " not found (no data file given and the model has no sample/train.jsonl)");
    Path missing = Path.of("no-such-dir/data.jsonl");
    assertThatThrownBy(() -> BundledModel.dataFile(withSample, missing))
        .hasMessage("no-such-dir/data.jsonl not found");
  }

  @Test
  void theExtractedCopyIsTheCommittedModel() throws Exception {
    Path dir = BundledModel.extract();
    Path committed = Path.of("../onnx-models/tiny-roberta-cls");
    for (String f : new String[] {"manifest.json", "train.onnx", BundledModel.SAMPLE_DATA}) {
      assertThat(dir.resolve(f)).as(f).hasSameBinaryContentAs(committed.resolve(f));
    }
  }

  /** A JVM that extracts the bundled model and exits, as `train` on its default does. */
  static final class ExtractAndExit {
    public static void main(String[] args) throws Exception {
      System.out.println(BundledModel.extract());
    }
  }

  @Test
  void theExtractedCopyIsGoneWhenTheJvmExits(@TempDir Path tmp) throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + tmp,
                "-cp",
                System.getProperty("java.class.path"),
                ExtractAndExit.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor()).as(out).isZero();
    assertThat(Path.of(out)).startsWithRaw(tmp).doesNotExist();
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).as("left in the temporary folder").isEmpty();
    }
  }
}
