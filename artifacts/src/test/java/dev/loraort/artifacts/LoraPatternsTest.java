package dev.loraort.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoraPatternsTest {
  private static final String Q0 = "roberta.encoder.layer.0.attention.self.query";
  private static final String V0 = "roberta.encoder.layer.0.attention.self.value";
  private static final String Q1 = "roberta.encoder.layer.1.attention.self.query";
  private static final String V1 = "roberta.encoder.layer.1.attention.self.value";

  /**
   * PEFT's get_pattern_key on hand cases: each row is (keys in order, module, the key PEFT picks or
   * null). The expected column was produced by PEFT's function itself
   * (re.match(rf"(.*\.)?({key})$", name), first match wins) under CPython's re.
   */
  @Test
  void matchesAsPeftsGetPatternKey() {
    Object[][] rows = {
      {List.of(Q0), Q0, Q0}, // the exact name
      {List.of(Q0), Q1, null},
      {List.of("query"), Q0, "query"}, // a dotted suffix
      {List.of("query"), V0, null},
      {List.of("self.value"), V1, "self.value"},
      {List.of("uery"), Q0, null}, // a suffix that does not start at a dot
      {List.of("attention"), Q0, null}, // a middle segment: the key must reach the end
      {List.of("roberta.encoder.layer.0.attention.self"), Q0, null},
      {List.of("layer.1.attention.self.query"), Q0, null},
      {List.of("layer.1.attention.self.query"), Q1, "layer.1.attention.self.query"},
      {
        List.of("layer\\.[01]\\.attention\\.self\\.value"),
        V1,
        "layer\\.[01]\\.attention\\.self\\.value"
      },
      {List.of("layer\\.[01]\\.attention\\.self\\.value"), Q0, null},
      {List.of("^roberta\\.encoder\\.layer\\.1\\..*"), V1, "^roberta\\.encoder\\.layer\\.1\\..*"},
      {List.of("^roberta\\.encoder\\.layer\\.1\\..*"), Q0, null},
      {List.of("^encoder.layer.1.attention.self.query"), Q1, null}, // ^: no prefix allowed
      {List.of("self.query|value"), V0, "self.query|value"}, // alternation inside the group
      {List.of(".*layer.1.*"), Q1, ".*layer.1.*"},
      {List.of(".*layer.1.*"), Q0, null},
      {List.of("q.*"), Q0, "q.*"}, // a regex after a dot
      {List.of("q.*"), V0, null},
      {List.of("query", "layer.0.attention.self.query"), Q0, "query"}, // the first key wins
      {List.of("layer.0.attention.self.query", "query"), Q0, "layer.0.attention.self.query"},
      {List.of("layer.0.attention.self.query", "query"), Q1, "query"},
      {List.of(), Q0, null},
    };
    for (Object[] row : rows) {
      @SuppressWarnings("unchecked")
      List<String> keys = (List<String>) row[0];
      assertThat(LoraPatterns.patternKey(keys, (String) row[1]).orElse(null))
          .as("%s on %s", keys, row[1])
          .isEqualTo(row[2]);
    }
  }

  @Test
  void givesEachModuleItsRankAlphaAndPeftsScale() {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("layer.0.attention.self.query", 2);
    ranks.put("query", 4);
    LoraPatterns p = new LoraPatterns(ranks, Map.of("value", 32.0));
    assertThat(p.rank(Q0, 8)).isEqualTo(2);
    assertThat(p.rank(Q1, 8)).isEqualTo(4);
    assertThat(p.rank(V0, 8)).isEqualTo(8); // no match: the default
    assertThat(p.alpha(V1, 16)).isEqualTo(32);
    assertThat(p.alpha(Q0, 16)).isEqualTo(16);
    assertThat(p.scale(Q0, 8, 16, false, 2f)).isEqualTo(8f); // 16 / 2
    assertThat(p.scale(V0, 8, 16, false, 2f)).isEqualTo(4f); // 32 / 8
    assertThat(p.scale(V0, 8, 16, true, 16 / (float) Math.sqrt(8)))
        .isEqualTo((float) (32 / Math.sqrt(8))); // rsLoRA: alpha_m / sqrt(r_m)
    // a module at the defaults keeps the given s itself, even one PEFT would round otherwise
    assertThat(p.scale("other.dense", 8, 16, false, 2.5f)).isEqualTo(2.5f);
  }

  @Test
  void exactKeysMatchOneNameOnly() {
    String k = LoraPatterns.exact(Q0);
    assertThat(LoraPatterns.patternKey(List.of(k), Q0)).contains(k);
    assertThat(LoraPatterns.patternKey(List.of(k), "x." + Q0)).isEmpty();
    assertThat(LoraPatterns.patternKey(List.of(k), Q0.replace("layer.0", "layerX0"))).isEmpty();
  }

  @Test
  void refusesBadValuesKeysAndKeysThatMatchNothing() {
    assertThatThrownBy(() -> new LoraPatterns(Map.of("query", 0), Map.of()))
        .hasMessageContaining("rank_pattern query: a rank must be >= 1, got 0");
    assertThatThrownBy(() -> new LoraPatterns(Map.of(), Map.of("query", -1.0)))
        .hasMessageContaining("alpha_pattern query: an alpha must be > 0");
    assertThatThrownBy(() -> new LoraPatterns(Map.of("(?P<x>q)", 4), Map.of()))
        .hasMessageContaining("rank_pattern key (?P<x>q) is not a regular expression");
    LoraPatterns p = new LoraPatterns(Map.of("query", 4), Map.of("key", 8.0));
    assertThat(p.unmatched(List.of(Q0, V0))).containsExactly("alpha_pattern key");
    assertThatThrownBy(() -> p.requireMatches(List.of(Q0, V0, Q1, V1, "x.value"), "tiny"))
        .hasMessageContaining("alpha_pattern key matches no adapted module of tiny")
        .hasMessageContaining(Q0)
        .hasMessageContaining("(5 in all)");
  }

  @Test
  void metadataKeepsTheOrderAndOldFilesHaveNone() throws IOException {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("query", 4);
    ranks.put("layer.0.attention.self.query", 2);
    LoraPatterns p = new LoraPatterns(ranks, Map.of("value", 32.0));
    LoraPatterns back = LoraPatterns.fromMetadata(p.toMetadata(), "x.onnx");
    assertThat(back).isEqualTo(p);
    assertThat(back.rankPattern().keySet()).containsExactlyElementsOf(ranks.keySet());
    assertThat(LoraPatterns.fromMetadata(Map.of("rank", "8"), "old.onnx").isEmpty()).isTrue();
    assertThat(LoraPatterns.NONE.toMetadata()).isEmpty();
    assertThatThrownBy(
            () -> LoraPatterns.fromMetadata(Map.of("rank_pattern", "{\"q\": 2.5}"), "x.onnx"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("x.onnx");
  }
}
