package dev.loraort.trainer.data;

import com.google.gson.JsonObject;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.io.IOException;
import java.util.Map;

/**
 * What a model family adds to the generic reading and batching of JSONL examples (one field per
 * batch-major input, padded along the sequence): the inputs it builds itself, the fields it reads
 * from a line for them, and what it adds to a collated batch. Qwen2-VL is the one family that needs
 * this ({@link Qwen2VlBatches}); the others have {@link #NONE}.
 */
interface FamilyInputs {
  /** A family whose inputs are all generic. */
  FamilyInputs NONE =
      new FamilyInputs() {
        @Override
        public boolean builds(String input) {
          return false;
        }

        @Override
        public void read(JsonObject line, Map<String, Object> example, String at) {}

        @Override
        public void collate(JsonlDataset.Example[] batch, Map<String, Tensor> out) {}
      };

  /**
   * @param m a manifest
   * @return its family's inputs
   * @throws IllegalArgumentException if the manifest lacks what the family needs; the message names
   *     it
   */
  static FamilyInputs of(Manifest m) {
    return Qwen2VlInputs.appliesTo(m) ? new Qwen2VlBatches(m) : NONE;
  }

  /**
   * @param input a graph input
   * @return true if this family builds it (the generic reader and collator skip it)
   */
  boolean builds(String input);

  /**
   * Reads and checks the family's fields of one JSONL line.
   *
   * @param line the parsed line
   * @param example the generic fields already read; the family adds its own (and may adjust
   *     defaults, e.g. labels)
   * @param at file:line, for errors
   * @throws IOException if a field is missing or inconsistent; the message starts with {@code at}
   */
  void read(JsonObject line, Map<String, Object> example, String at) throws IOException;

  /**
   * Adds the family's inputs to a batch whose generic inputs are collated.
   *
   * @param batch the examples, in batch order
   * @param out the collated inputs, to add to
   */
  void collate(JsonlDataset.Example[] batch, Map<String, Tensor> out);
}
