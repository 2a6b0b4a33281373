package dev.qig.core.vqa;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Two model variants compared on the same questions: the difference of their accuracy (or of a
 * per-question metric such as KL) with a paired bootstrap confidence interval, and McNemar's exact
 * test on the questions where exactly one of them is right. With several calibration draws per
 * variant, the bootstrap resamples draws and questions together, so that the interval also holds
 * the variation between draws. Resampling is seeded: the same inputs give the same interval.
 *
 * @param difference mean of a minus mean of b (accuracy in [−1, 1], or the metric's units)
 * @param lower lower end of the confidence interval
 * @param upper upper end
 * @param confidence of the interval, e.g. 0.95
 * @param pValue McNemar's exact two-sided p-value (accuracy of one draw), NaN where it does not apply
 * @param onlyA questions only a got right (summed over draws)
 * @param onlyB questions only b got right (summed over draws)
 */
public record PairedComparison(double difference, double lower, double upper, double confidence, double pValue,
                               int onlyA, int onlyB) {

    /** Resamples of the bootstrap. */
    public static final int RESAMPLES = 4000;
    private static final long SEED = 20261129L;

    /** True when the interval excludes zero. */
    public boolean distinguishable() {
        return lower > 0 || upper < 0;
    }

    /** Accuracy of a minus accuracy of b on the same questions, one draw each. */
    public static PairedComparison accuracy(boolean[] a, boolean[] b, double confidence) {
        return accuracy(List.of(a), List.of(b), confidence);
    }

    /**
     * Mean accuracy over draws of a minus that of b. Draw k of a is paired with draw k of b (the
     * same calibration samples) and all draws answer the same questions in the same order.
     */
    public static PairedComparison accuracy(List<boolean[]> a, List<boolean[]> b, double confidence) {
        double[][] x = new double[a.size()][];
        double[][] y = new double[b.size()][];
        int onlyA = 0;
        int onlyB = 0;
        for (int k = 0; k < a.size(); k++) {
            x[k] = ones(a.get(k));
            y[k] = ones(b.get(k));
            for (int i = 0; i < a.get(k).length; i++) {
                onlyA += a.get(k)[i] && !b.get(k)[i] ? 1 : 0;
                onlyB += !a.get(k)[i] && b.get(k)[i] ? 1 : 0;
            }
        }
        PairedComparison d = meanDifference(x, y, confidence);
        double p = a.size() == 1 ? mcnemarExact(onlyA, onlyB) : Double.NaN;
        return new PairedComparison(d.difference, d.lower, d.upper, confidence, p, onlyA, onlyB);
    }

    /** Mean of a minus mean of b, per question over draws (e.g. KL to full precision), with the bootstrap interval. */
    public static PairedComparison meanDifference(double[][] a, double[][] b, double confidence) {
        if (a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("need the same number of draws on both sides, at least one");
        }
        int draws = a.length;
        int n = a[0].length;
        double[][] d = new double[draws][n];
        for (int k = 0; k < draws; k++) {
            if (a[k].length != n || b[k].length != n) {
                throw new IllegalArgumentException("every draw must answer the same " + n + " questions");
            }
            for (int i = 0; i < n; i++) {
                d[k][i] = a[k][i] - b[k][i];
            }
        }
        double observed = mean(d, identity(draws), identity(n));
        SplittableRandom random = new SplittableRandom(SEED);
        double[] boot = new double[RESAMPLES];
        int[] drawPick = new int[draws];
        int[] questionPick = new int[n];
        for (int r = 0; r < RESAMPLES; r++) {
            for (int k = 0; k < draws; k++) {
                drawPick[k] = draws == 1 ? 0 : random.nextInt(draws);
            }
            for (int i = 0; i < n; i++) {
                questionPick[i] = random.nextInt(n);
            }
            boot[r] = mean(d, drawPick, questionPick);
        }
        Arrays.sort(boot);
        double tail = (1 - confidence) / 2;
        return new PairedComparison(observed, quantile(boot, tail), quantile(boot, 1 - tail), confidence, Double.NaN, 0, 0);
    }

    /**
     * McNemar's exact two-sided p-value: with {@code onlyA + onlyB} discordant questions, the
     * probability under "either is as likely to be the one right" of a split at least this uneven.
     */
    public static double mcnemarExact(int onlyA, int onlyB) {
        int n = onlyA + onlyB;
        if (n == 0) {
            return 1.0;
        }
        int k = Math.min(onlyA, onlyB);
        double logHalfN = -n * Math.log(2);
        double logC = 0; // log C(n, 0)
        double tail = 0;
        for (int i = 0; i <= k; i++) {
            tail += Math.exp(logC + logHalfN);
            logC += Math.log(n - i) - Math.log(i + 1);
        }
        return Math.min(1.0, 2 * tail);
    }

    private static double mean(double[][] d, int[] draws, int[] questions) {
        double sum = 0;
        for (int k : draws) {
            for (int i : questions) {
                sum += d[k][i];
            }
        }
        return sum / ((double) draws.length * questions.length);
    }

    private static int[] identity(int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }

    private static double[] ones(boolean[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] ? 1 : 0;
        }
        return out;
    }

    /** Linear interpolation between order statistics. */
    private static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
