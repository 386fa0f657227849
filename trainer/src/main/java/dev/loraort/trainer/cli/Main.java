package dev.loraort.trainer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lora-trainer}: the entry point. */
@Command(
    name = "lora-trainer",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description =
        "Trains LoRA adapters (plain and sharpness-aware) through ONNX training graphs on ONNX Runtime.",
    subcommands = {
      PrepareCommand.class,
      TrainCommand.class,
      ExportCommand.class,
      InferCommand.class,
      EvalCommand.class,
      PredictCommand.class,
      StudyCommand.class,
      SharpnessCommand.class,
      CheckCommand.class,
      ConformCommand.class,
      CompareCommand.class,
      BenchCommand.class,
      MaterializeCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  /**
   * Runs the CLI and exits with its status: 0 ok, 1 failure, 2 bad usage.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the CLI without exiting (tests).
   *
   * @param args the arguments
   * @return the exit status
   */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          // bad input is reported as one clear line; a stack trace only helps for our own bugs
          boolean expected =
              e instanceof java.io.IOException
                  || e instanceof IllegalArgumentException
                  || e instanceof dev.loraort.trainer.graph.GraphException
                  || e instanceof dev.loraort.trainer.loop.TrainingDiverged
                  || e instanceof java.io.UncheckedIOException;
          String message =
              e instanceof java.nio.file.NoSuchFileException
                  ? e.getMessage() + ": no such file or directory" // the JDK says only the path
                  : e.getMessage();
          cmd.getErr().println("error: " + message);
          if (!expected) {
            e.printStackTrace(cmd.getErr());
          }
          return 1;
        });
    return cl.execute(args);
  }

  /** Version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"lora-trainer " + (v == null ? "dev" : v)};
    }
  }
}
