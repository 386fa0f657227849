/**
 * Optimizers as optax-style gradient transformations: each is a small init/update pair, and AdamW
 * is their composition ({@link dev.loraort.trainer.optim.Optimizers#adamw}).
 */
package dev.loraort.trainer.optim;
