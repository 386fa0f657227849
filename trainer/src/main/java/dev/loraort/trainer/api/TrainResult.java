package dev.loraort.trainer.api;

import java.nio.file.Path;

/**
 * The outcome of {@link LoraTrainer#train}. A loss is the training graph's loss at one optimizer
 * step, the mean over its micro-batches (in nats: cross-entropy for classifiers and causal LMs, the
 * in-batch contrastive loss for embedding models).
 *
 * @param runDir the run directory, with run.json (config, provenance, result)
 * @param adapter the trained adapter, {@code runDir/adapter.onnx}
 * @param modelDir the model directory it was trained on (a temporary copy for the bundled model):
 *     what {@link LoraTrainer#export} and {@link LoraTrainer#loadAdapter} need
 * @param firstLoss the first step's loss
 * @param lastLoss the last step's loss
 * @param steps optimizer steps taken
 * @param seconds wall-clock seconds of the steps
 */
public record TrainResult(
    Path runDir,
    Path adapter,
    Path modelDir,
    double firstLoss,
    double lastLoss,
    long steps,
    double seconds) {}
