/**
 * Training data: JSONL of pre-tokenized examples matching a manifest's inputs, padded seeded
 * batches.
 */
package dev.loraort.trainer.data;
