package dev.loraort.trainer.method;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.LoraPatterns;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.TensorNames;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.graph.ExecutionDevice;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.graph.ModelGraphs;
import dev.loraort.trainer.optim.Schedule;
import dev.loraort.trainer.params.LoraParams;
import dev.loraort.trainer.params.ParamTree;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Each method's invariant and a hand-computable case, on tiny-roberta-cls's real gradients. */
class MethodsTest {
  static Manifest m;
  static Fixture fx;
  static ModelGraphs graphs;
  static final Step STEP = new Step(3, 10, 1e-2);

  @BeforeAll
  static void open() throws IOException {
    m = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    fx = Fixture.read(m.dir());
    graphs = ModelGraphs.open(m, ExecutionDevice.CPU, 1, false);
  }

  @AfterAll
  static void close() {
    graphs.close();
  }

  static LoraParams params() throws IOException {
    return LoraParams.of(
        m, fx.params(), fx.params().get(TensorNames.LORA_SCALE).floats()[0], "fixture");
  }

  static ParamTree grads(LoraParams p, Map<String, Tensor> extra) {
    Map<String, Tensor> feeds = ModelGraphs.feeds(fx.batch(), p.feeds(extra), Map.of());
    // as the step loop does: gradients of B at its rank, not of s_m / s B padded
    Map<String, Tensor> out =
        p.trueGradients(
            graphs.train().run(feeds, ModelGraphs.trainOutputs(p.tree().names())), extra);
    Map<String, Tensor> g = new LinkedHashMap<>();
    p.tree().names().forEach(n -> g.put(n, out.get(TensorNames.grad(n))));
    return ParamTree.of(g);
  }

  static SharpnessMethod.Setup setup() {
    return new SharpnessMethod.Setup(step -> 1e-2, 10, new SplittableRandom(1), 0.9, 0.999, 1e-8);
  }

  /** Runs every pass of one step as the loop does; returns the gradients for the optimizer. */
  static <S> ParamTree step(SharpnessMethod<S> method, LoraParams p, S s) {
    ParamTree g = null;
    for (int pass = 0; pass < method.passes(); pass++) {
      Map<String, Tensor> extra = method.beforePass(pass, p, s, STEP);
      g = method.afterGrad(pass, grads(p, extra), p, s, STEP);
    }
    return g;
  }

  @Test
  void loraSamPerturbsByRhoAndRestoresBitForBit() throws IOException {
    LoraParams p = params();
    ParamTree before = p.tree().copy();
    LoraSam sam = new LoraSam(new LoraSam.Cfg(0.05, MethodConfig.NormScope.GLOBAL));
    SecondPassPerturbation s = sam.init(p, setup());
    ParamTree clean = grads(p, Map.of());
    ParamTree g = step(sam, p, s);
    assertThat(sam.perturbationNorm(s)).isCloseTo(0.05, within(1e-9));
    for (String n : before.names()) {
      assertThat(p.tree().get(n)).as(n).isEqualTo(before.get(n));
    }
    // the optimizer gets the second pass's gradient, not the first's
    String b0 = TensorNames.loraB(p.modules().get(0));
    assertThat(g.get(b0)).isNotEqualTo(clean.get(b0));
  }

  /**
   * The fixture's tensors with the values at alpha 48 (s = 6 against the queries' 2, PEFT's
   * alpha_pattern): the queries are fed as they are, the values' B folded by 3.
   */
  static LoraParams paramsWithAlphaPattern() throws IOException {
    return LoraParams.of(
        m,
        fx.params(),
        new AdapterWeights(
            Map.of(),
            8,
            16,
            2f,
            false,
            new LoraPatterns(Map.of(), Map.of("value", 48.0)),
            Map.of()),
        "fixture");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void fmloraAppliesAtMostRhoInWeightSpaceAndRestores(boolean alphaPattern) throws IOException {
    LoraParams p = alphaPattern ? paramsWithAlphaPattern() : params();
    ParamTree before = p.tree().copy();
    FmLora fm =
        new FmLora(
            new FmLora.Cfg(
                0.05, MethodConfig.RhoSchedule.CONSTANT, MethodConfig.NormScope.PER_LAYER));
    SecondPassPerturbation s = fm.init(p, setup());
    step(fm, p, s);
    for (String n : before.names()) {
      assertThat(p.tree().get(n)).as(n).isEqualTo(before.get(n));
    }
    for (String mod : p.modules()) { // ||s E_B A||_F <= rho per layer (docs/methods.md section 3)
      float[] eb = s.perturbation().get(TensorNames.loraB(mod));
      float[] a = p.tree().get(TensorNames.loraA(mod));
      int r = p.rank(mod);
      double sm = p.scale(mod);
      int out = eb.length / r;
      int in = a.length / r;
      double sq = 0;
      for (int i = 0; i < out; i++) {
        for (int j = 0; j < in; j++) {
          double v = 0;
          for (int k = 0; k < r; k++) {
            v += eb[i * r + k] * a[k * in + j];
          }
          sq += sm * sm * v * v;
        }
      }
      assertThat(Math.sqrt(sq)).as(mod).isLessThanOrEqualTo(0.05 * (1 + 1e-5)).isGreaterThan(0.0);
    }
  }

  @Test
  void eflatStartsTheEmaWithTheFirstPerturbationThenMixesByBetaNew() throws IOException {
    LoraParams p = params();
    ParamTree before = p.tree().copy();
    EFlatLora ef =
        new EFlatLora(
            new EFlatLora.Cfg(
                0.05, MethodConfig.RhoSchedule.CONSTANT, 0.9, MethodConfig.NormScope.PER_LAYER));
    EFlatLora.State s = ef.init(p, setup());
    ParamTree g1 = step(ef, p, s);
    assertThat(ef.perturbationNorm(s)).isZero(); // step 1 runs unperturbed
    String b0 = TensorNames.loraB(p.modules().get(0));
    assertThat(g1.get(b0)).isEqualTo(grads(p, Map.of()).get(b0));
    Map<String, float[]> e1 =
        Perturbations.flatPerturbationOfB(
            p, g1, 0.05, MethodConfig.NormScope.PER_LAYER, new Perturbations.Scratch());
    assertThat(s.ema.get(b0)).isEqualTo(e1.get(b0)); // E_hat_1 = E_1
    float[] ema1 = s.ema.get(b0).clone();
    // step 2: the pass runs at B + E_hat_1; E_2 is taken there; then E_hat_2 = 0.1 E_hat_1 + 0.9
    // E_2
    LoraParams tilde = p.copy();
    s.ema.forEach(
        (n, e) -> {
          float[] w = tilde.tree().get(n);
          for (int i = 0; i < w.length; i++) {
            w[i] += e[i];
          }
        });
    ParamTree gTilde = grads(tilde, Map.of());
    Map<String, float[]> e2 =
        Perturbations.flatPerturbationOfB(
            tilde, gTilde, 0.05, MethodConfig.NormScope.PER_LAYER, new Perturbations.Scratch());
    ParamTree g2 = step(ef, p, s);
    assertThat(g2.get(b0)).isEqualTo(gTilde.get(b0));
    for (String n : before.names()) {
      assertThat(p.tree().get(n)).as(n).isEqualTo(before.get(n));
    }
    float[] ema2 = s.ema.get(b0);
    for (int i = 0; i < ema2.length; i++) {
      assertThat((double) ema2[i]).isCloseTo(0.1 * ema1[i] + 0.9 * e2.get(b0)[i], within(1e-7));
    }
  }

  @Test
  void flatLoraSigmaRisesFromZeroToSigma() {
    FlatLoraRwp rwp = new FlatLoraRwp(new FlatLoraRwp.Cfg(0.2));
    assertThat(rwp.sigmaAt(new Step(0, 10, 0))).isZero();
    assertThat(rwp.sigmaAt(new Step(5, 10, 0))).isCloseTo(0.1, within(1e-12));
    assertThat(rwp.sigmaAt(new Step(10, 10, 0))).isCloseTo(0.2, within(1e-12));
    assertThat(
            rwp.beforePass(0, null, null, new Step(5, 10, 0))
                .get(TensorNames.RWP_SIGMA)
                .floats()[0])
        .isEqualTo(0.1f);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void biLoraClipsTheAuxiliaryBranchToRhoGlobally(boolean alphaPattern) throws IOException {
    LoraParams p = alphaPattern ? paramsWithAlphaPattern() : params();
    BiLora bi = new BiLora(new BiLora.Cfg(1e-3, 4, MethodConfig.NormScope.GLOBAL));
    BiLora.State s = bi.init(p, setup());
    for (int t = 0; t < 3; t++) {
      ParamTree g = step(bi, p, s);
      assertThat(g.names()).isEqualTo(p.tree().names());
      assertThat(g.get(TensorNames.loraA(p.modules().get(0))))
          .hasSize(p.tree().get(TensorNames.loraA(p.modules().get(0))).length);
      bi.afterUpdate(p, s, STEP);
    }
    assertThat(bi.perturbationNorm(s)).isLessThanOrEqualTo(1e-3 * (1 + 1e-9)).isGreaterThan(0.9e-3);
    double sq = 0; // sum over layers of ||s_m B2 A2||_F^2, formed naively
    for (String mod : p.modules()) {
      float[] a2 = s.aux().get(TensorNames.loraA(mod));
      float[] b2 = s.aux().get(TensorNames.loraB(mod));
      int in = a2.length / 4;
      int out = b2.length / 4;
      for (int i = 0; i < out; i++) {
        for (int j = 0; j < in; j++) {
          double v = 0;
          for (int k = 0; k < 4; k++) {
            v += (double) b2[i * 4 + k] * a2[k * in + j];
          }
          sq += Math.pow(p.scale(mod) * v, 2);
        }
      }
    }
    assertThat(Math.sqrt(sq)).isCloseTo(bi.perturbationNorm(s), within(1e-6 * 1e-3));
    assertThat(s.aux().get(TensorNames.loraB(p.modules().get(0)))).isNotEqualTo(new float[64 * 4]);
  }

  @Test
  void barRescalesByOneMinusOrPlusAlphaEta() throws IOException {
    for (Bar.Variant v : Bar.Variant.values()) {
      LoraParams p = params();
      ParamTree before = p.tree().copy();
      Bar bar = new Bar(new Bar.Cfg(v, 0.5, Schedule.Kind.CONSTANT));
      ParamTree g = grads(p, Map.of());
      bar.afterGrad(0, g, p, bar.init(p, setup()), STEP);
      double f = 0.5 * STEP.lr();
      for (String mod : p.modules()) {
        String a = TensorNames.loraA(mod);
        String b = TensorNames.loraB(mod);
        boolean growB =
            v == Bar.Variant.NBAR
                ? Perturbations.norm(g, List.of(b)) >= Perturbations.norm(g, List.of(a))
                : Perturbations.norm(before, List.of(b)) < Perturbations.norm(before, List.of(a));
        assertThat(p.tree().get(b)[0])
            .isEqualTo((float) (before.get(b)[0] * (growB ? 1 + f : 1 - f)));
        assertThat(p.tree().get(a)[0])
            .isEqualTo((float) (before.get(a)[0] * (growB ? 1 - f : 1 + f)));
      }
    }
  }
}
