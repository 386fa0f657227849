package example;

import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.trainer.api.LoraTrainer;
import dev.loraort.trainer.api.TrainOptions;
import dev.loraort.trainer.api.TrainResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** Trains the tiny model bundled in the trainer jar, exports the adapter and loads it back. */
public final class TrainFromJava {
  private TrainFromJava() {}

  /**
   * @param args optionally, the run directory (default runs/train-from-java)
   * @throws IOException if the run directory or the exported adapter cannot be written
   */
  public static void main(String[] args) throws IOException {
    Path runDir = Path.of(args.length > 0 ? args[0] : "runs/train-from-java");
    TrainResult run =
        LoraTrainer.train(
            TrainOptions.builder(runDir) // no .model(...): the bundled tiny RoBERTa classifier
                .method("eflat-lora")
                .steps(100)
                .lr(5e-3)
                .seed(1)
                .overwrite(true) // running the example again replaces its run
                .build());
    System.out.printf(
        Locale.ROOT,
        "loss %.4f -> %.4f in %d steps (%.1f s); adapter %s%n",
        run.firstLoss(),
        run.lastLoss(),
        run.steps(),
        run.seconds(),
        run.adapter());

    // ONNX Runtime applies this file at inference time (OrtLoraAdapter), without merging
    Path exported = runDir.resolve("tiny.onnx_adapter");
    LoraTrainer.export(run.adapter(), run.modelDir(), AdapterFormat.ORT_ADAPTER, exported);
    AdapterWeights loaded = LoraTrainer.loadAdapter(exported, run.modelDir());
    System.out.printf(
        Locale.ROOT,
        "exported %s: %d tensors, rank %d%n",
        exported,
        loaded.tensors().size(),
        loaded.rank());

    if (!(run.lastLoss() < run.firstLoss())) { // the example doubles as a test of the artifacts
      throw new IllegalStateException("the loss did not fall: " + run);
    }
  }
}
