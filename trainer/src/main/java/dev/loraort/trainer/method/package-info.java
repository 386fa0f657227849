/**
 * Training methods behind one interface, {@link dev.loraort.trainer.method.SharpnessMethod}: one
 * small class per method holding only its config; all mutable data lives in the state it inits.
 */
package dev.loraort.trainer.method;
