/**
 * The trainer from Java in a few lines: {@link dev.loraort.trainer.api.LoraTrainer} trains an
 * adapter with immutable {@link dev.loraort.trainer.api.TrainOptions}, exports it to the formats
 * {@code lora-trainer export} writes, and loads it back; {@link
 * dev.loraort.trainer.api.BundledModel} is the tiny model in the jar. The CLI runs through the same
 * code. {@code examples/train-from-java} is a standalone Maven project that uses it.
 */
package dev.loraort.trainer.api;
