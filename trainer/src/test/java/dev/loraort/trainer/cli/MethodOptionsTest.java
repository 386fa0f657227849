package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.trainer.method.EFlatLora;
import dev.loraort.trainer.method.MethodConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class MethodOptionsTest {
  @Test
  void aMethodTakesItsOwnOptionsOverItsDefaults() {
    MethodConfig c =
        TrainArgs.parse(List.of("--method", "eflat-lora", "--beta", "0.5", "--rho", "0.1"))
            .method();
    assertThat(c).isInstanceOf(EFlatLora.Cfg.class);
    EFlatLora.Cfg e = (EFlatLora.Cfg) c;
    assertThat(e.betaNew()).isEqualTo(0.5);
    assertThat(e.rho()).isEqualTo(0.1);
    assertThat(e.rhoSchedule()).isEqualTo(EFlatLora.Cfg.defaults().rhoSchedule());
  }

  @Test
  void optionsAMethodDoesNotTakeAreNamedInOneError() {
    assertThatThrownBy(() -> TrainArgs.parse(List.of("--method", "lora", "--rho", "0.1")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--rho does not apply to --method lora");
    assertThatThrownBy(
            () ->
                TrainArgs.parse(
                    List.of("--method", "lora-sam", "--sigma", "0.1", "--bar-mu", "0.3")))
        .hasMessage("--sigma, --bar-mu do not apply to --method lora-sam");
  }
}
