/**
 * Training methods behind one interface, {@link dev.loraort.trainer.method.SharpnessMethod}: one
 * small class per method holding only its config, plus its registration ({@link
 * dev.loraort.trainer.method.MethodSpec}: id, settings with defaults, factory) listed in {@link
 * dev.loraort.trainer.method.Methods}; all mutable data lives in the state it inits.
 */
package dev.loraort.trainer.method;
