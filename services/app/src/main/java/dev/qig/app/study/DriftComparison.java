package dev.qig.app.study;

import dev.qig.data.Domain;
import dev.qig.quant.Method;
import dev.qig.core.vqa.PairedComparison;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * One method on one drift: the config calibrated before the drift (on the source domain) against
 * the one re-calibrated after it (on the drifted domain), both answering the drifted domain's
 * held-out questions. Draw k of one side is paired with draw k of the other (the same seed) and
 * both answer the same questions in the same order; every difference is after minus before.
 *
 * @param method the calibration method
 * @param accuracyBefore per draw, accuracy in [0, 1] of the config calibrated before the drift
 * @param accuracyAfter per draw, accuracy of the re-calibrated config
 * @param accuracy after minus before, with its paired bootstrap interval over draws and questions
 * @param pValues per draw, McNemar's exact p-value of after against before
 * @param klBefore mean KL to full precision (nats per answer token) of the config calibrated before
 * @param klAfter the same of the re-calibrated config
 * @param kl KL after minus KL before, with its interval
 */
record DriftComparison(Method method, double[] accuracyBefore, double[] accuracyAfter, PairedComparison accuracy,
                       double[] pValues, double klBefore, double klAfter, PairedComparison kl) {

    /**
     * Compares before and after from their per-question results.
     *
     * @param rightBefore per draw, per question: was the answer of the config calibrated before right
     * @param rightAfter the same for the re-calibrated config, same draws and questions
     * @param klBefore per draw, per question: KL of the answer distribution to full precision
     * @param klAfter the same for the re-calibrated config
     */
    static DriftComparison of(Method method, List<boolean[]> rightBefore, List<boolean[]> rightAfter,
                              List<double[]> klBefore, List<double[]> klAfter, double confidence) {
        int draws = rightBefore.size();
        if (rightAfter.size() != draws || klBefore.size() != draws || klAfter.size() != draws) {
            throw new IllegalArgumentException("before and after need the same draws");
        }
        double[] accBefore = new double[draws];
        double[] accAfter = new double[draws];
        double[] p = new double[draws];
        for (int k = 0; k < draws; k++) {
            accBefore[k] = fraction(rightBefore.get(k));
            accAfter[k] = fraction(rightAfter.get(k));
            p[k] = PairedComparison.accuracy(rightAfter.get(k), rightBefore.get(k), confidence).pValue();
        }
        PairedComparison accuracy = PairedComparison.accuracy(rightAfter, rightBefore, confidence);
        double[][] after = klAfter.toArray(double[][]::new);
        double[][] before = klBefore.toArray(double[][]::new);
        PairedComparison kl = PairedComparison.meanDifference(after, before, confidence);
        return new DriftComparison(method, accBefore, accAfter, accuracy, p, mean(before), mean(after), kl);
    }

    /** Accuracy: is the re-calibrated config better, not distinguishable or worse. */
    Verdict accuracyVerdict() {
        return Verdict.of(accuracy, true);
    }

    /** KL to full precision (lower is better): is the re-calibrated config better, not distinguishable or worse. */
    Verdict klVerdict() {
        return Verdict.of(kl, false);
    }

    /**
     * The plain verdict, e.g. "- clean -> cluttered, awq: re-calibration not distinguishable in
     * accuracy (+0.4 [-1.0, +1.8] points), better in KL (-1.90 [-3.00, -0.80] x 1e-3)".
     */
    String verdictLine(Domain from, Domain to) {
        return String.format(Locale.ROOT, "- %s -> %s, %s: re-calibration %s in accuracy (%s points), %s in KL (%s x 1e-3)",
                from.id(), to.id(), method.id(), accuracyVerdict().text(), ResultsTable.points(accuracy),
                klVerdict().text(), ResultsTable.klPoints(kl));
    }

    /** Mean accuracy over draws, in [0, 1]. */
    double meanBefore() {
        return Arrays.stream(accuracyBefore).average().orElse(Double.NaN);
    }

    double meanAfter() {
        return Arrays.stream(accuracyAfter).average().orElse(Double.NaN);
    }

    /** Accuracy in percent over draws, with the draws in brackets when there are several: "91.6 (91.4, 91.8)". */
    static String percent(double[] perDraw) {
        String mean = String.format(Locale.ROOT, "%.1f", 100 * Arrays.stream(perDraw).average().orElse(Double.NaN));
        if (perDraw.length == 1) {
            return mean;
        }
        return mean + " (" + Arrays.stream(perDraw).mapToObj(a -> String.format(Locale.ROOT, "%.1f", 100 * a))
                .collect(Collectors.joining(", ")) + ")";
    }

    /** McNemar p-values of the draws, comma-separated. */
    String pValueList() {
        List<String> out = new ArrayList<>();
        for (double p : pValues) {
            out.add(ResultsTable.pValue(p));
        }
        return String.join(", ", out);
    }

    private static double fraction(boolean[] right) {
        int n = 0;
        for (boolean r : right) {
            n += r ? 1 : 0;
        }
        return right.length == 0 ? Double.NaN : (double) n / right.length;
    }

    private static double mean(double[][] perDraw) {
        double sum = 0;
        for (double[] q : perDraw) {
            sum += Arrays.stream(q).average().orElse(Double.NaN);
        }
        return sum / perDraw.length;
    }
}
