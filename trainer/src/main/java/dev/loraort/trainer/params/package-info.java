/** Named float32 parameter trees (LoRA A/B, trainable heads) and their PEFT initialization. */
package dev.loraort.trainer.params;
