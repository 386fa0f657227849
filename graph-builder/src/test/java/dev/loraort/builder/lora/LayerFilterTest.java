package dev.loraort.builder.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.builder.BuildException;
import org.junit.jupiter.api.Test;

/** PEFT's layers_to_transform / layers_pattern rules (check_target_module_exists). */
class LayerFilterTest {
  @Test
  void withoutAPatternTheLastIndexedListCounts() {
    LayerFilter f = LayerFilter.parse("1,3", null);
    assertThat(f.accepts("roberta.encoder.layer.3.attention.self.query")).isTrue();
    assertThat(f.accepts("roberta.encoder.layer.0.attention.self.query")).isFalse();
    assertThat(f.accepts("transformer.h.1.attn.c_attn")).isTrue();
    // PEFT's .*\.[^.]*\.(\d+)\. is greedy: experts.5, not layers.1
    assertThat(f.accepts("model.layers.1.mlp.experts.5.up_proj")).isFalse();
    assertThat(f.accepts("lm_head")).isFalse(); // no index: no LoRA when layers are named
  }

  @Test
  void aPatternNamesTheLayerList() {
    LayerFilter f = LayerFilter.parse("1", "layers");
    assertThat(f.accepts("model.layers.1.mlp.experts.5.up_proj")).isTrue();
    assertThat(f.accepts("transformer.h.1.attn.c_attn")).isFalse();
    assertThat(LayerFilter.parse("1", "blocks,h").accepts("transformer.h.1.attn.c_attn")).isTrue();
  }

  @Test
  void noIndicesIsEveryLayerAndBadIndicesAreNamed() {
    assertThat(LayerFilter.parse(null, null).accepts("lm_head")).isTrue();
    assertThat(LayerFilter.parse(null, null)).isEqualTo(LayerFilter.ALL);
    assertThatThrownBy(() -> LayerFilter.parse("one", null))
        .isInstanceOf(BuildException.class)
        .hasMessageContaining("--layers-to-transform one");
    assertThatThrownBy(() -> LayerFilter.parse("-1", null)).hasMessageContaining(">= 0");
    assertThatThrownBy(() -> LayerFilter.parse(null, "h"))
        .hasMessageContaining("--layers-pattern needs --layers-to-transform");
  }
}
