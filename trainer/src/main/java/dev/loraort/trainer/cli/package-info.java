/** The command line ({@code lora-trainer train | materialize}), on picocli. */
package dev.loraort.trainer.cli;
