/**
 * Conformance against reference outputs: golden trace directories (written by
 * scripts/reference/reference.py or any other trainer), running this trainer from the same start on
 * the same batches, and a per-step report that names the first divergence.
 */
package dev.loraort.trainer.conformance;
