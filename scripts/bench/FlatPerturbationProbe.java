import dev.loraort.linalg.FlatPerturbation;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * The host math of FMLoRA and EFlat-LoRA (FlatPerturbation's direction of every adapted layer) at
 * roberta-large's size (48 layers, 1024 x 1024, r 8), on one thread, each layer's workspace kept
 * from step to step as the methods keep it. Prints the median of 30 steps after 10 and the sum of
 * N^2, so two builds can be compared on the same input (run it against each build's classes):
 *
 * <pre>
 * mvn -B -q -o dependency:build-classpath -pl linalg -Dmdep.outputFile=/tmp/linalg.cp
 * java -cp "$(cat /tmp/linalg.cp):linalg/target/classes" scripts/bench/FlatPerturbationProbe.java
 * </pre>
 */
public class FlatPerturbationProbe {
  public static void main(String[] args) {
    int n = 1024;
    int m = 1024;
    int r = 8;
    int layers = 48;
    Random rnd = new Random(0);
    float[][][] t = new float[layers][4][];
    for (float[][] layer : t) {
      layer[0] = gaussian(r * m, rnd); // A
      layer[1] = gaussian(n * r, rnd); // B
      layer[2] = gaussian(r * m, rnd); // grad A
      layer[3] = gaussian(n * r, rnd); // grad B
    }
    FlatPerturbation.Workspace[] kept = new FlatPerturbation.Workspace[layers];
    for (int i = 0; i < layers; i++) {
      kept[i] = new FlatPerturbation.Workspace(n, m, r);
    }
    double[] ms = new double[40];
    double n2 = 0;
    for (int step = 0; step < 40; step++) {
      long t0 = System.nanoTime();
      n2 = 0;
      for (int i = 0; i < layers; i++) {
        float[][] l = t[i];
        n2 += kept[i].direction(l[0], l[1], l[2], l[3], 2.0).nSquared();
      }
      ms[step] = (System.nanoTime() - t0) / 1e6;
    }
    System.out.printf(
        Locale.ROOT,
        "%d layers %d x %d, r %d, one thread, median of 30 steps after 10: %.2f ms per step"
            + " (sum of N^2 %.17g)%n",
        layers,
        n,
        m,
        r,
        median(ms),
        n2);
  }

  private static double median(double[] x) {
    double[] y = Arrays.copyOfRange(x, 10, x.length);
    Arrays.sort(y);
    return y[y.length / 2];
  }

  private static float[] gaussian(int k, Random rnd) {
    float[] x = new float[k];
    for (int i = 0; i < k; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    return x;
  }
}
