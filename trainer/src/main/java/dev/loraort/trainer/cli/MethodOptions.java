package dev.loraort.trainer.cli;

import dev.loraort.trainer.config.TrainConfig;
import dev.loraort.trainer.method.MethodConfig;
import dev.loraort.trainer.method.MethodSetting;
import dev.loraort.trainer.method.MethodSpec;
import dev.loraort.trainer.method.Methods;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The methods' settings on the command line, made from the registry ({@link Methods}): {@code
 * --method} and every setting a registered method takes, under "Method settings", each with the
 * methods that take it and their defaults in its help. Each method starts from its registered
 * defaults; a setting given for a method that does not take it is an error, not silently ignored.
 *
 * <p>A command gets these options by naming this class as its {@code modelTransformer}, and reads
 * them back with {@link #config}.
 */
final class MethodOptions implements IModelTransformer {
  private static final String METHOD = "--method";
  private static final String DEFAULT_METHOD = TrainConfig.defaults().method().id();

  /** Called by picocli when it builds the command: adds the options. */
  @Override
  public CommandSpec transform(CommandSpec command) {
    ArgGroupSpec.Builder group =
        ArgGroupSpec.builder().exclusive(false).multiplicity("0..1").heading("Method settings%n");
    group.addArg(
        OptionSpec.builder(METHOD)
            .type(String.class)
            .paramLabel("<method>")
            .completionCandidates(Methods.IDS)
            .description(
                "training method: ${COMPLETION-CANDIDATES} (default: " + DEFAULT_METHOD + ")")
            .build());
    for (MethodSetting<?> s : Methods.SETTINGS) {
      group.addArg(
          OptionSpec.builder(s.flag())
              .type(String.class)
              .paramLabel(paramLabel(s.flag()))
              .description(s.help() + " (" + defaultsOf(s) + ")")
              .build());
    }
    command.addArgGroup(group.build());
    return command;
  }

  /**
   * @param command a parsed command that has these options
   * @return the chosen method's config
   * @throws IllegalArgumentException for an unknown method, a bad value, or a setting the method
   *     does not take
   */
  static MethodConfig config(CommandSpec command) {
    Map<String, String> given = new LinkedHashMap<>();
    for (MethodSetting<?> s : Methods.SETTINGS) {
      String text = command.findOption(s.flag()).getValue();
      if (text != null) {
        given.put(s.flag(), text);
      }
    }
    String method = command.findOption(METHOD).getValue();
    // picocli gives an option in a group its default only when the group is matched: apply it here
    return Methods.byId(method != null ? method : DEFAULT_METHOD).config(given);
  }

  /** "lora-sam, bi-lora: global; fmlora, eflat-lora: per-layer": methods grouped by default. */
  private static String defaultsOf(MethodSetting<?> s) {
    Map<String, List<String>> byDefault = new LinkedHashMap<>();
    for (MethodSpec<?> m : Methods.ALL) {
      for (MethodSetting.Default<?> d : m.settings()) {
        if (d.setting() == s) {
          byDefault.computeIfAbsent(d.shown(), v -> new ArrayList<>()).add(m.id());
        }
      }
    }
    List<String> parts = new ArrayList<>();
    byDefault.forEach((value, ids) -> parts.add(String.join(", ", ids) + ": " + value));
    return String.join("; ", parts);
  }

  /** --rho-schedule to {@code <rhoSchedule>}, as picocli labels an annotated field. */
  private static String paramLabel(String flag) {
    String[] words = flag.substring(2).split("-");
    StringBuilder b = new StringBuilder("<").append(words[0]);
    for (int i = 1; i < words.length; i++) {
      b.append(Character.toUpperCase(words[i].charAt(0))).append(words[i].substring(1));
    }
    return b.append('>').toString();
  }
}
