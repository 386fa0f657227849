package dev.loraort.trainer.cli;

import dev.loraort.trainer.method.Bar;
import dev.loraort.trainer.method.BiLora;
import dev.loraort.trainer.method.EFlatLora;
import dev.loraort.trainer.method.FlatLoraRwp;
import dev.loraort.trainer.method.FmLora;
import dev.loraort.trainer.method.LoraSam;
import dev.loraort.trainer.method.MethodConfig;
import dev.loraort.trainer.method.Methods;
import dev.loraort.trainer.optim.Schedule;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * The methods' settings on the command line. Each method starts from its documented defaults (the
 * {@code defaults()} of its Cfg); an option given for a method that has no such setting is an
 * error, not silently ignored.
 */
final class MethodOptions {
  @Option(
      names = "--method",
      description = "training method: ${COMPLETION-CANDIDATES} (default: lora)",
      completionCandidates = TrainCommand.MethodIds.class)
  String method = "lora";

  @Option(
      names = "--rho",
      description =
          "perturbation radius (lora-sam, fmlora, eflat-lora: rho_0; bi-lora); default 0.05")
  Double rho;

  @Option(
      names = "--rho-schedule",
      description = "fmlora, eflat-lora: constant or cosine (to 0.4 rho; default)")
  String rhoSchedule;

  @Option(
      names = "--beta",
      description = "eflat-lora: EMA weight of the new perturbation, beta_new (default 0.9)")
  Double beta;

  @Option(
      names = "--norm-scope",
      description =
          "per-layer or global (lora-sam, bi-lora: global; fmlora, eflat-lora: per-layer)")
  String normScope;

  @Option(names = "--sigma", description = "flat-lora: final noise scale sigma (default 0.05)")
  Double sigma;

  @Option(names = "--aux-rank", description = "bi-lora: rank of the auxiliary branch (default 8)")
  Integer auxRank;

  @Option(names = "--bar-mu", description = "lora-obar, lora-nbar: mu_0 (default 0.5)")
  Double barMu;

  @Option(
      names = "--bar-schedule",
      description =
          "lora-obar, lora-nbar: constant, linear or cosine decay of alpha_t (default cosine)")
  String barSchedule;

  /**
   * @return the chosen method's settings
   * @throws IllegalArgumentException for an unknown method or an option it does not take
   */
  MethodConfig build() {
    MethodConfig d = Methods.defaults(method);
    MethodConfig c;
    Set<String> takes; // the options this method reads; any other one given is an error
    if (d instanceof LoraSam.Cfg x) {
      c = new LoraSam.Cfg(or(rho, x.rho()), scope(x.normScope()));
      takes = Set.of("--rho", "--norm-scope");
    } else if (d instanceof FmLora.Cfg x) {
      c = new FmLora.Cfg(or(rho, x.rho()), sched(x.rhoSchedule()), scope(x.normScope()));
      takes = Set.of("--rho", "--rho-schedule", "--norm-scope");
    } else if (d instanceof EFlatLora.Cfg x) {
      c =
          new EFlatLora.Cfg(
              or(rho, x.rho()),
              sched(x.rhoSchedule()),
              or(beta, x.betaNew()),
              scope(x.normScope()));
      takes = Set.of("--rho", "--rho-schedule", "--beta", "--norm-scope");
    } else if (d instanceof FlatLoraRwp.Cfg x) {
      c = new FlatLoraRwp.Cfg(or(sigma, x.sigma()));
      takes = Set.of("--sigma");
    } else if (d instanceof BiLora.Cfg x) {
      c =
          new BiLora.Cfg(
              or(rho, x.rho()), auxRank != null ? auxRank : x.auxRank(), scope(x.normScope()));
      takes = Set.of("--rho", "--aux-rank", "--norm-scope");
    } else if (d instanceof Bar.Cfg x) {
      Schedule.Kind k =
          barSchedule == null
              ? x.schedule()
              : Schedule.Kind.valueOf(barSchedule.toUpperCase(Locale.ROOT));
      c = new Bar.Cfg(x.variant(), or(barMu, x.mu0()), k);
      takes = Set.of("--bar-mu", "--bar-schedule");
    } else {
      c = d;
      takes = Set.of();
    }
    Map<String, Object> given = new LinkedHashMap<>();
    given.put("--rho", rho);
    given.put("--rho-schedule", rhoSchedule);
    given.put("--beta", beta);
    given.put("--norm-scope", normScope);
    given.put("--sigma", sigma);
    given.put("--aux-rank", auxRank);
    given.put("--bar-mu", barMu);
    given.put("--bar-schedule", barSchedule);
    List<String> unused =
        given.entrySet().stream()
            .filter(e -> e.getValue() != null && !takes.contains(e.getKey()))
            .map(Map.Entry::getKey)
            .toList();
    if (!unused.isEmpty()) {
      throw new IllegalArgumentException(
          String.join(", ", unused)
              + (unused.size() == 1 ? " does" : " do")
              + " not apply to --method "
              + method);
    }
    return c;
  }

  private MethodConfig.NormScope scope(MethodConfig.NormScope d) {
    return normScope == null ? d : MethodConfig.NormScope.parse(normScope);
  }

  private MethodConfig.RhoSchedule sched(MethodConfig.RhoSchedule d) {
    return rhoSchedule == null ? d : MethodConfig.RhoSchedule.parse(rhoSchedule);
  }

  private static double or(Double v, double d) {
    return v != null ? v : d;
  }
}
