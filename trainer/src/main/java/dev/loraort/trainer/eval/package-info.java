/** Evaluation through a model's infer graph: predictions and classification metrics. */
package dev.loraort.trainer.eval;
