package dev.loraort.trainer.cli;

import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.data.JsonlDataset;
import dev.loraort.trainer.eval.ClassificationMetrics;
import dev.loraort.trainer.eval.Evaluator;
import dev.loraort.trainer.params.LoraParams;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code lora-trainer eval}: classification metrics of an adapter on labelled data. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description =
        "Accuracy, F1 and MCC (classifiers; zero-shot for CLIP-family models on captioned"
            + " images) or perplexity (causal LMs) of an adapter (any format) on data.")
final class EvalCommand implements Callable<Integer> {
  @Mixin AdapterDataOptions in;

  @Option(names = "--batch-size", description = "default: ${DEFAULT-VALUE}")
  int batchSize = 32;

  @Override
  public Integer call() throws Exception {
    Manifest m = in.manifest();
    LoraParams p = in.params(m);
    List<JsonlDataset.Example> examples = in.examples(m);
    Object result;
    try (Evaluator e = Evaluator.open(m, examples, batchSize, in.device(true), 0)) {
      if (m.task().contains("causal-lm")) {
        double[] ppl = e.perplexity(p);
        System.out.printf(
            Locale.ROOT,
            "%s on %s: %d tokens, nll %.5f, perplexity %.3f%n",
            in.scored(),
            in.data,
            (long) ppl[2],
            ppl[0],
            ppl[1]);
        result = Map.of("nll", ppl[0], "perplexity", ppl[1], "tokens", ppl[2]);
      } else if (m.task().equals(Evaluator.EMBEDDING)) {
        Map<String, Double> r = e.retrieval(p);
        System.out.printf(
            Locale.ROOT,
            "%s on %s: n %d pairs, recall@1 %.4f, mrr %.4f%n",
            in.scored(),
            in.data,
            examples.size(),
            r.get("recall_at_1"),
            r.get("mrr"));
        result = r;
      } else {
        boolean zeroShot = m.task().equals(Evaluator.CONTRASTIVE);
        ClassificationMetrics r = zeroShot ? e.zeroShot(p) : e.classify(p);
        System.out.printf(
            Locale.ROOT,
            "%s on %s: n %d, %saccuracy %.4f, f1 %.4f, mcc %.4f%n",
            in.scored(),
            in.data,
            r.n(),
            zeroShot ? "zero-shot " : "",
            r.accuracy(),
            r.f1(),
            r.mcc());
        result = r;
      }
    }
    in.writeResult(result);
    return 0;
  }
}
