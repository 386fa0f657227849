package dev.loraort.trainer.conformance;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.Xml;
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

  /**
   * @return the report as JSON: verdict, first divergence, tolerances, every step and tensor
   */
  public String toJson() {
    com.google.gson.JsonObject o = new com.google.gson.JsonObject();
    o.addProperty("conforms", conforms());
    o.addProperty("first_divergence", firstDivergence() < 0 ? null : firstDivergence());
    o.addProperty("loss_rtol", lossRtol);
    o.addProperty("tensor_tol", tensorTol);
    com.google.gson.JsonArray st = new com.google.gson.JsonArray();
    for (StepDiff d : steps) {
      com.google.gson.JsonObject x = new com.google.gson.JsonObject();
      x.addProperty("step", d.step());
      x.addProperty("loss", d.loss());
      x.addProperty("golden_loss", d.goldenLoss());
      x.addProperty("loss_rel_err", d.lossRelErr());
      if (!Double.isNaN(d.pertRelErr())) {
        x.addProperty("perturbation_rel_err", d.pertRelErr());
      }
      st.add(x);
    }
    o.add("steps", st);
    com.google.gson.JsonArray ts = new com.google.gson.JsonArray();
    for (TensorDiff t : tensors) {
      com.google.gson.JsonObject x = new com.google.gson.JsonObject();
      x.addProperty("name", t.name());
      x.addProperty("rel_err", t.relErr());
      ts.add(x);
    }
    o.add("tensors", ts);
    return new com.google.gson.GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o)
        + "\n";
  }

  /**
   * @param suite the test suite's name (the trace checked)
   * @return JUnit XML as CI systems read it: one test case per step and per final tensor, failed
   *     where over tolerance
   */
  public String toJUnitXml(String suite) {
    List<String[]> cases = new java.util.ArrayList<>(); // name, failure message or null
    for (StepDiff d : steps) {
      boolean bad = !(d.lossRelErr() <= lossRtol) || d.pertRelErr() > tensorTol;
      cases.add(
          new String[] {
            "step " + d.step(),
            bad
                ? String.format(
                    Locale.ROOT,
                    "loss %.8g vs golden %.8g: rel.err %.2e (loss rtol %.0e), perturbation %.2e",
                    d.loss(),
                    d.goldenLoss(),
                    d.lossRelErr(),
                    lossRtol,
                    d.pertRelErr())
                : null
          });
    }
    for (TensorDiff t : tensors) {
      cases.add(
          new String[] {
            "final " + t.name(),
            t.relErr() <= tensorTol
                ? null
                : String.format(
                    Locale.ROOT, "%.2e of its max (tolerance %.0e)", t.relErr(), tensorTol)
          });
    }
    long failures = cases.stream().filter(c -> c[1] != null).count();
    StringBuilder x = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.append(
        String.format(
            Locale.ROOT,
            "<testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\">%n",
            Xml.escape(suite),
            cases.size(),
            failures));
    for (String[] c : cases) {
      x.append("  <testcase classname=\"").append(Xml.escape(suite)).append("\" name=\"");
      x.append(Xml.escape(c[0])).append('"');
      if (c[1] == null) {
        x.append("/>\n");
      } else {
        x.append(">\n    <failure message=\"")
            .append(Xml.escape(c[1]))
            .append("\"/>\n  </testcase>\n");
      }
    }
    return x.append("</testsuite>\n").toString();
  }
}
