/**
 * A model directory's manifest.json (lora-graph/1, docs/formats.md section 1), read into immutable
 * records.
 */
package dev.loraort.artifacts.manifest;
