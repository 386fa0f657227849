package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.eval.Sharpness;
import dev.loraort.trainer.params.LoraParams;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code lora-trainer sharpness}: full-space sharpness of an adapter on some examples. */
@Command(
    name = "sharpness",
    mixinStandardHelpOptions = true,
    description = {
      "Measures an adapter's sharpness in the full weight space.",
      "The largest loss increase within ||E||_F <= rho in the full weight space of the adapted layers",
      "(normalised gradient ascent with projection) and the mean increase over random directions."
    })
final class SharpnessCommand implements Callable<Integer> {
  @Mixin AdapterDataOptions in;

  @Option(
      names = "--examples",
      description = "use the first N examples (default: ${DEFAULT-VALUE})")
  int examples = 64;

  @Option(
      names = "--rho",
      description = "radius in the full weight space (default: ${DEFAULT-VALUE})")
  double rho = 0.05;

  @Option(names = "--steps", description = "ascent steps (default: ${DEFAULT-VALUE})")
  int steps = 3;

  @Option(names = "--directions", description = "random directions (default: ${DEFAULT-VALUE})")
  int directions = 8;

  @Option(names = "--seed", description = "random directions' seed (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--batch-size", description = "default: ${DEFAULT-VALUE}")
  int batchSize = 16;

  @Override
  public Integer call() throws Exception {
    Manifest m = in.manifest();
    LoraParams p = in.params(m);
    List<JsonlDataset.Example> ex = in.examples(m);
    Sharpness s =
        Sharpness.measure(
            m,
            p,
            ex.subList(0, Math.min(examples, ex.size())),
            batchSize,
            rho,
            steps,
            directions,
            seed,
            in.device(false), // strict fp32: the increases measured are small differences of losses
            0);
    System.out.printf(
        Locale.ROOT,
        "%s: loss %.5f, adversarial increase %.5f (rho %.3g, %d steps), random mean increase %.5f (%d directions)%n",
        in.scored(),
        s.cleanLoss(),
        s.adversarialIncrease(),
        s.rho(),
        s.ascentSteps(),
        s.randomMeanIncrease(),
        s.directions());
    in.writeResult(s);
    return 0;
  }
}
