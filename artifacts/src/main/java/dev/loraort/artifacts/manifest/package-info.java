/**
 * The model directory's manifest.json (graph-contract.md, lora-graph/1), read into immutable
 * records.
 */
package dev.loraort.artifacts.manifest;
