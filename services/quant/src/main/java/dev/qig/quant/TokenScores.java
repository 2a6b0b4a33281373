package dev.qig.quant;

import java.util.Arrays;

/**
 * Per-sample token weights from raw attribution scores (qig-method.md section 3): normalize to sum
 * 1, clip into the IQR fences {@code [q1 - 1.5 iqr, q3 + 1.5 iqr]} (percentiles with linear
 * interpolation between sorted neighbours, as numpy's default), renormalize.
 */
public final class TokenScores {

    private TokenScores() {}

    /** The weights lambda; uniform when every score is zero (nothing to attribute). */
    public static float[] weights(float[] scores, boolean iqrClip) {
        float[] u = normalized(scores);
        if (iqrClip) {
            float[] fences = iqrFences(u);
            for (int i = 0; i < u.length; i++) {
                u[i] = Math.min(Math.max(u[i], fences[0]), fences[1]);
            }
            u = normalized(u);
        }
        return u;
    }

    /** {lower, upper} fences of the interquartile-range rule. */
    public static float[] iqrFences(float[] u) {
        double q1 = percentile(u, 0.25);
        double q3 = percentile(u, 0.75);
        double iqr = q3 - q1;
        return new float[] {(float) (q1 - 1.5 * iqr), (float) (q3 + 1.5 * iqr)};
    }

    /** Percentile with linear interpolation between the sorted neighbours (numpy "linear"). */
    public static double percentile(float[] values, double q) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        float[] sorted = values.clone();
        Arrays.sort(sorted);
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    private static float[] normalized(float[] v) {
        double sum = 0;
        for (float x : v) {
            sum += x;
        }
        float[] out = new float[v.length];
        if (!(sum > 0) || Double.isInfinite(sum)) {
            Arrays.fill(out, 1f / v.length);
            return out;
        }
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] / sum);
        }
        return out;
    }
}
