/**
 * Immutable, validated configuration: what is trained and how ({@link
 * dev.loraort.trainer.config.TrainConfig}, saved with every run), apart from where and on what it
 * runs ({@link dev.loraort.trainer.config.RunSettings}).
 */
package dev.loraort.trainer.config;
