package dev.loraort.trainer.eval;

/**
 * Accuracy, F1 and Matthews correlation from a confusion matrix.
 *
 * @param n examples
 * @param accuracy fraction correct
 * @param f1 binary tasks: F1 of class 1; more classes: macro F1 (over all classes; {@link
 *     #macroF1()} is macro F1 for any number of classes)
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

  /**
   * Macro-averaged F1: the unweighted mean of each class's one-vs-rest F1, for two classes as for
   * more (where {@link #f1()} of a binary task is class 1's F1 alone). As in scikit-learn's {@code
   * f1_score(average="macro")} without {@code labels}, the mean runs over the classes that occur
   * among the true labels or the predictions; a class that is neither is left out rather than
   * counted as 0.
   *
   * @return macro F1 in [0, 1]
   */
  public double macroF1() {
    int k = confusion.length;
    double sum = 0;
    int counted = 0;
    for (int c = 0; c < k; c++) {
      long actual = 0;
      long predicted = 0;
      for (int j = 0; j < k; j++) {
        actual += confusion[c][j];
        predicted += confusion[j][c];
      }
      if (actual + predicted > 0) {
        sum += f1(confusion[c][c], predicted, actual);
        counted++;
      }
    }
    return sum / counted;
  }

  private static double f1(long tp, long predictedPositive, long actualPositive) {
    double denom = predictedPositive + actualPositive;
    return denom == 0 ? 0 : 2.0 * tp / denom;
  }
}
