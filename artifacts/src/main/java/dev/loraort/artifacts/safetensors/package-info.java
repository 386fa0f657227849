/**
 * The safetensors format (huggingface/safetensors): a small codec with a capped, validated header.
 */
package dev.loraort.artifacts.safetensors;
