package dev.loraort.trainer.method;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.trainer.optim.Schedule;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MethodSpecTest {
  @Test
  void everyRegistrationMakesItsMethodFromItsDefaults() {
    for (MethodSpec<?> m : Methods.ALL) {
      assertThat(m.defaults().id()).isEqualTo(m.id());
      assertThat(m.config(Map.of())).isEqualTo(m.defaults());
      assertThat(m.create(m.defaults()).config()).isEqualTo(m.defaults());
      assertThat(Methods.create(m.defaults()).id()).isEqualTo(m.id());
    }
  }

  @Test
  void givenSettingsReplaceDefaultsAndKeepTheRest() {
    assertThat(Bar.NBAR.config(Map.of("--bar-schedule", "Linear")))
        .isEqualTo(new Bar.Cfg(Bar.Variant.NBAR, 0.5, Schedule.Kind.LINEAR));
    assertThat(BiLora.SPEC.config(Map.of("--aux-rank", "4", "--norm-scope", "per-layer")))
        .isEqualTo(new BiLora.Cfg(0.05, 4, MethodConfig.NormScope.PER_LAYER));
  }

  @Test
  void badValuesNameTheFlagAndWhatWasExpected() {
    assertThatThrownBy(() -> LoraSam.SPEC.config(Map.of("--norm-scope", "layer")))
        .hasMessage("--norm-scope layer: expected per-layer or global");
    assertThatThrownBy(() -> Bar.OBAR.config(Map.of("--bar-schedule", "step")))
        .hasMessage("--bar-schedule step: expected constant, linear or cosine");
    assertThatThrownBy(() -> BiLora.SPEC.config(Map.of("--aux-rank", "2.5")))
        .hasMessage("--aux-rank 2.5: expected an integer");
    assertThatThrownBy(() -> FmLora.SPEC.config(Map.of("--rho", "-1")))
        .hasMessage("fmlora: rho must be > 0, got -1.0");
  }

  @Test
  void aMethodMadeFromAnotherMethodsConfigIsRefused() {
    assertThatThrownBy(() -> Bar.OBAR.create(Bar.NBAR.defaults()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lora-nbar");
    assertThatThrownBy(() -> Methods.byId("sam"))
        .hasMessage("--method sam is unknown; expected one of " + Methods.IDS);
  }

  @Test
  void aRegistrationReadsOnlyTheSettingsItLists() {
    assertThatThrownBy(
            () ->
                MethodSpec.of(
                    "noisy",
                    "",
                    List.of(),
                    v -> new FlatLoraRwp.Cfg(v.get(FlatLoraRwp.SIGMA)),
                    FlatLoraRwp::new))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("noisy reads --sigma but does not list it");
  }

  @Test
  void oneFlagHasOneSettingAndOneIdOneMethod() {
    MethodSetting<Double> otherRho = MethodSetting.number("--rho", "another radius");
    MethodSpec<FlatLoraRwp.Cfg> clash =
        MethodSpec.of(
            "clash",
            "",
            List.of(otherRho.defaultsTo(1.0)),
            v -> new FlatLoraRwp.Cfg(v.get(otherRho)),
            FlatLoraRwp::new);
    assertThatThrownBy(() -> Methods.settingsOf(List.of(LoraSam.SPEC, clash)))
        .hasMessage("clash declares --rho again; use the existing setting");
    assertThatThrownBy(() -> Methods.settingsOf(List.of(Lora.SPEC, Lora.SPEC)))
        .hasMessage("method lora is registered twice");
  }
}
