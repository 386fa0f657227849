package dev.loraort.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraort.trainer.method.EFlatLora;
import dev.loraort.trainer.method.FlatLoraRwp;
import dev.loraort.trainer.method.Lora;
import dev.loraort.trainer.method.MethodConfig;
import dev.loraort.trainer.method.Methods;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

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
    assertThat(e.rhoSchedule()).isEqualTo(EFlatLora.SPEC.defaults().rhoSchedule());
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

  @Test
  void withoutMethodOptionsTheRunIsLora() {
    assertThat(TrainArgs.parse(List.of("--steps", "3")).method()).isEqualTo(Lora.SPEC.defaults());
    assertThat(TrainArgs.parse(List.of("--sigma", "0.1", "--method", "flat-lora")).method())
        .isEqualTo(new FlatLoraRwp.Cfg(0.1));
  }

  @Test
  void theHelpListsEachSettingWithItsMethodsAndDefaults() {
    CommandLine train = new CommandLine(new TrainCommand());
    assertThat(train.getUsageMessage())
        .contains("Method settings")
        .contains("--aux-rank=<auxRank>");
    assertThat(help(train, "--method"))
        .isEqualTo("training method: " + String.join(", ", Methods.IDS) + " (default: lora)");
    assertThat(help(train, "--norm-scope"))
        .isEqualTo(
            "the perturbation's norm per-layer or global"
                + " (lora-sam, bi-lora: global; fmlora, eflat-lora: per-layer)");
  }

  private static String help(CommandLine command, String flag) {
    return String.join(" ", command.getCommandSpec().findOption(flag).description());
  }
}
