/**
 * The step loop ({@link dev.loraort.trainer.loop.StepLoop}), the one place where steps happen, and
 * the job around it: set-up, trace, progress and the run directory with its provenance.
 */
package dev.loraort.trainer.loop;
