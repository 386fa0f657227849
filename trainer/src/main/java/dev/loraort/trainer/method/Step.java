package dev.loraort.trainer.method;

/**
 * Where the run is, passed to methods as a named extra argument (never a global).
 *
 * @param index 0-based optimizer step
 * @param total optimizer steps in the run
 * @param lr this step's learning rate
 */
public record Step(long index, long total, double lr) {}
