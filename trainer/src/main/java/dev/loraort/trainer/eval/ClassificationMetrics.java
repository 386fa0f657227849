package dev.loraort.trainer.eval;

/**
 * Accuracy, F1 and Matthews correlation from a confusion matrix.
 *
 * @param n examples
 * @param accuracy fraction correct
 * @param f1 binary tasks: F1 of class 1; more classes: macro F1
 * @param mcc Matthews correlation coefficient (Gorodkin's R_K for more than two classes); 0 when
 *     undefined
 * @param confusion counts[true][predicted]
 */
public record ClassificationMetrics(
    long n, double accuracy, double f1, double mcc, long[][] confusion) {
  /**
   * @param labels true labels
   * @param predicted predicted labels
   * @param classes number of classes
   * @return the metrics
   * @throws IllegalArgumentException if the arrays differ in length or a label is out of range
   */
  public static ClassificationMetrics of(int[] labels, int[] predicted, int classes) {
    if (labels.length != predicted.length || labels.length == 0) {
      throw new IllegalArgumentException(
          labels.length + " labels, " + predicted.length + " predictions");
    }
    long[][] c = new long[classes][classes];
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= classes || predicted[i] < 0 || predicted[i] >= classes) {
        throw new IllegalArgumentException(
            "label "
                + labels[i]
                + " or prediction "
                + predicted[i]
                + " outside [0, "
                + classes
                + ")");
      }
      c[labels[i]][predicted[i]]++;
    }
    long n = labels.length;
    long correct = 0;
    long[] rowSum = new long[classes];
    long[] colSum = new long[classes];
    for (int i = 0; i < classes; i++) {
      correct += c[i][i];
      for (int j = 0; j < classes; j++) {
        rowSum[i] += c[i][j];
        colSum[j] += c[i][j];
      }
    }
    double f1;
    if (classes == 2) {
      f1 = f1(c[1][1], colSum[1], rowSum[1]);
    } else {
      double sum = 0;
      for (int k = 0; k < classes; k++) {
        sum += f1(c[k][k], colSum[k], rowSum[k]);
      }
      f1 = sum / classes;
    }
    // Gorodkin: (c * s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)); binary MCC when
    // K = 2
    double pt = 0;
    double pp = 0;
    double tt = 0;
    for (int k = 0; k < classes; k++) {
      pt += (double) colSum[k] * rowSum[k];
      pp += (double) colSum[k] * colSum[k];
      tt += (double) rowSum[k] * rowSum[k];
    }
    double den = Math.sqrt(((double) n * n - pp) * ((double) n * n - tt));
    double mcc = den == 0 ? 0 : ((double) correct * n - pt) / den;
    return new ClassificationMetrics(n, (double) correct / n, f1, mcc, c);
  }

  private static double f1(long tp, long predictedPositive, long actualPositive) {
    double denom = predictedPositive + actualPositive;
    return denom == 0 ? 0 : 2.0 * tp / denom;
  }
}
