package dev.loraort.trainer.conformance;

import dev.loraort.artifacts.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A trace and final tensors compared with a golden trace: per step the loss's relative error (and
 * the perturbation norm's, where both have one), per tensor max|a - b| / max|b|, and the first step
 * where a tolerance is broken.
 *
 * @param steps per-step comparisons
 * @param tensors per-tensor comparisons (empty when no final tensors were compared)
 * @param lossRtol the per-step loss tolerance
 * @param tensorTol the tolerance for final tensors and perturbation norms
 */
public record ConformanceReport(
    List<StepDiff> steps, List<TensorDiff> tensors, double lossRtol, double tensorTol) {
  /**
   * @param step 1-based step
   * @param loss ours
   * @param goldenLoss the reference's
   * @param lossRelErr |ours - golden| / |golden|
   * @param pertRelErr the same for the perturbation norms (NaN if either lacks one)
   */
  public record StepDiff(
      long step, double loss, double goldenLoss, double lossRelErr, double pertRelErr) {}

  /**
   * @param name tensor name
   * @param relErr max|ours - golden| / max|golden|
   */
  public record TensorDiff(String name, double relErr) {}

  /** Copies the lists. */
  public ConformanceReport {
    steps = List.copyOf(steps);
    tensors = List.copyOf(tensors);
  }

  /**
   * @param ours this run's rows
   * @param golden the reference's rows
   * @param ourFinals our final tensors, or an empty map
   * @param goldenFinals the reference's final tensors
   * @param lossRtol per-step loss tolerance (relative)
   * @param tensorTol final tensors (max abs error over max abs) and perturbation norms (relative)
   * @return the report
   * @throws IllegalArgumentException if the traces have different lengths or a tensor is missing
   */
  public static ConformanceReport compare(
      List<TraceRow> ours,
      List<TraceRow> golden,
      Map<String, Tensor> ourFinals,
      Map<String, Tensor> goldenFinals,
      double lossRtol,
      double tensorTol) {
    if (ours.size() != golden.size()) {
      throw new IllegalArgumentException(
          "the trace has " + ours.size() + " steps, the golden trace " + golden.size());
    }
    List<StepDiff> steps = new ArrayList<>();
    for (int i = 0; i < ours.size(); i++) {
      TraceRow a = ours.get(i);
      TraceRow b = golden.get(i);
      steps.add(
          new StepDiff(
              b.step(),
              a.loss(),
              b.loss(),
              rel(a.loss(), b.loss()),
              Double.isNaN(a.perturbationNorm()) || Double.isNaN(b.perturbationNorm())
                  ? Double.NaN
                  : Math.abs(a.perturbationNorm() - b.perturbationNorm())
                      / Math.max(Math.abs(b.perturbationNorm()), 1e-12)));
    }
    List<TensorDiff> tensors = new ArrayList<>();
    if (!ourFinals.isEmpty()) {
      for (Map.Entry<String, Tensor> e : goldenFinals.entrySet()) {
        Tensor a = ourFinals.get(e.getKey());
        if (a == null) {
          throw new IllegalArgumentException(
              "no final tensor " + e.getKey() + " in this run's output");
        }
        tensors.add(new TensorDiff(e.getKey(), a.maxErrorOfMax(e.getValue())));
      }
    }
    return new ConformanceReport(steps, tensors, lossRtol, tensorTol);
  }

  private static double rel(double a, double b) {
    return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
  }

  /**
   * @return the first step that breaks a tolerance, or -1
   */
  public long firstDivergence() {
    for (StepDiff d : steps) {
      if (!(d.lossRelErr() <= lossRtol) || d.pertRelErr() > tensorTol) {
        return d.step();
      }
    }
    return -1;
  }

  /**
   * @return the worst final tensor, or null if none was compared
   */
  public TensorDiff worstTensor() {
    return tensors.stream().max((a, b) -> Double.compare(a.relErr(), b.relErr())).orElse(null);
  }

  /**
   * @return true if every step and every final tensor is within tolerance
   */
  public boolean conforms() {
    TensorDiff w = worstTensor();
    return firstDivergence() < 0 && (w == null || w.relErr() <= tensorTol);
  }

  /**
   * @return a per-step table, the first divergence, the worst tensor and the verdict
   */
  public String render() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "%5s %14s %14s %10s %10s%n",
            "step",
            "loss",
            "golden",
            "rel.err",
            "pert.err"));
    for (StepDiff d : steps) {
      boolean bad = !(d.lossRelErr() <= lossRtol) || d.pertRelErr() > tensorTol;
      sb.append(
          String.format(
              Locale.ROOT,
              "%5d %14.8f %14.8f %10.2e %10s%s%n",
              d.step(),
              d.loss(),
              d.goldenLoss(),
              d.lossRelErr(),
              Double.isNaN(d.pertRelErr())
                  ? "-"
                  : String.format(Locale.ROOT, "%.2e", d.pertRelErr()),
              bad ? "  <-- over tolerance" : ""));
    }
    long first = firstDivergence();
    sb.append(
        first < 0
            ? String.format(Locale.ROOT, "every step within loss rtol %.0e%n", lossRtol)
            : "first divergence: step " + first + "\n");
    TensorDiff w = worstTensor();
    if (w != null) {
      sb.append(
          String.format(
              Locale.ROOT,
              "final tensors: worst %s %.2e of its max (tolerance %.0e)%n",
              w.name(),
              w.relErr(),
              tensorTol));
    }
    sb.append(conforms() ? "CONFORMS" : "DIVERGES").append('\n');
    return sb.toString();
  }
}
