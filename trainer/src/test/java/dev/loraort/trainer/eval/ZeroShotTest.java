package dev.loraort.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.Batcher;
import dev.loraort.trainer.data.CaptionedImages;
import dev.loraort.trainer.data.CaptionedImagesTest;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.data.TextEncoder;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.GraphSession;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.params.LoraParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ZeroShotTest {
  static final Path CLIP = Path.of("..", "onnx-models", "tiny-clip");
  @TempDir Path dir;

  @Test
  void predictsTheClassTheGraphsOwnImageTextLogitsPick() throws IOException {
    // one image per class: fed together with the class captions, infer.onnx's logits_per_image
    // row i ranks the captions for image i, so its argmax is the zero-shot prediction for image i;
    // the evaluator gets it from separate text and image runs, in image batches of 3 for 4 classes
    int classes = 4;
    byte[] pixels = new byte[classes * 28 * 28];
    new SplittableRandom(5).nextBytes(pixels);
    Path images = CaptionedImagesTest.writeImages(dir, 28, 28, pixels, new byte[] {0, 1, 2, 3});
    Manifest m = Manifest.read(CLIP);
    List<JsonlDataset.Example> ex;
    try (TextEncoder enc = TextEncoder.open(CLIP.resolve("tokenizer.json"), 16)) {
      ex =
          CaptionedImages.load(
              images,
              new CaptionedImages.Captions(
                  List.of("sneaker", "bag", "coat", "dress"), "a photo of a {}."),
              enc,
              m);
    }
    Fixture fx = Fixture.read(CLIP);
    LoraParams p =
        LoraParams.of(
            m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");

    Map<String, Tensor> feeds = new LinkedHashMap<>(Batcher.inOrder(ex, m, classes).next());
    feeds.putAll(p.feeds());
    float[] logits;
    try (GraphSession s = ModelGraphs.openInfer(m, ExecutionDevice.CPU, 1)) {
      logits = s.run(feeds, List.of(TensorNames.LOGITS)).get(TensorNames.LOGITS).floats();
    }
    ClassificationMetrics zs;
    try (Evaluator e = Evaluator.open(m, ex, 3, ExecutionDevice.CPU, 1)) {
      zs = e.zeroShot(p);
    }
    assertThat(zs.n()).isEqualTo(classes);
    try (Evaluator e = Evaluator.open(m, ex.subList(0, 2), 3, ExecutionDevice.CPU, 1)) {
      // images of classes 0 and 1 only: all four captions stay candidates
      ClassificationMetrics two = e.zeroShot(p);
      assertThat(two.confusion()).hasDimensions(classes, classes);
      assertThat(two.confusion()[1]).isEqualTo(zs.confusion()[1]);
    }
    for (int i = 0; i < classes; i++) {
      int best = 0;
      for (int c = 1; c < classes; c++) {
        if (logits[i * classes + c] > logits[i * classes + best]) {
          best = c;
        }
      }
      assertThat(zs.confusion()[i][best]).as("image %d -> class %d", i, best).isEqualTo(1);
    }
  }
}
