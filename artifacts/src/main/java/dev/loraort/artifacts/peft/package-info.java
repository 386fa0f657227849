/**
 * Hugging Face PEFT adapter directories: {@code adapter_config.json} and {@code
 * adapter_model.safetensors} with PEFT key names.
 */
package dev.loraort.artifacts.peft;
