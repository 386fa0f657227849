package dev.loraort.trainer.cli;

import dev.loraort.trainer.config.TrainConfig;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * {@code train} options to a {@link TrainConfig}, with the train command's own definitions and
 * defaults.
 */
public final class TrainArgs {
  private TrainArgs() {}

  /**
   * @param args train options (those that make the config; --out, --model and --data are not
   *     needed)
   * @return the config they describe
   * @throws IllegalArgumentException for an invalid or conflicting option
   */
  public static TrainConfig parse(List<String> args) {
    TrainCommand t = new TrainCommand();
    List<String> all = new ArrayList<>(args);
    all.add("--out");
    all.add("unused");
    try {
      new CommandLine(t).parseArgs(all.toArray(new String[0]));
    } catch (CommandLine.ParameterException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    return t.config();
  }
}
