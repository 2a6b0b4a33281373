package dev.qig.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The static-activation range statistic: exact, order-independent merges, and the clips built from it. */
class ActivationRangeTest {

    private static float[] gaussian(long seed, int n, double std) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextGaussian() * std);
        }
        return out;
    }

    @Test
    void mergesAreExactAndDoNotDependOnOrderOrGrouping() {
        List<float[]> samples = new ArrayList<>();
        for (int s = 0; s < 24; s++) {
            samples.add(gaussian(s, 500, Math.pow(2, s % 7 - 3)));
        }
        ActivationRange whole = new ActivationRange();
        samples.forEach(whole::add);
        Random r = new Random(7);
        for (int trial = 0; trial < 5; trial++) {
            List<float[]> shuffled = new ArrayList<>(samples);
            Collections.shuffle(shuffled, r);
            // Partial statistics of random runs, merged in a random order.
            List<ActivationRange> parts = new ArrayList<>();
            ActivationRange current = new ActivationRange();
            for (float[] x : shuffled) {
                current.add(x);
                if (r.nextInt(3) == 0) {
                    parts.add(current);
                    current = new ActivationRange();
                }
            }
            parts.add(current);
            Collections.shuffle(parts, r);
            ActivationRange merged = new ActivationRange();
            for (ActivationRange p : parts) {
                merged = merged.plus(p);
            }
            assertEquals(whole, merged, "trial " + trial);
        }
        assertEquals(24 * 500, whole.count());
        float max = 0;
        for (float[] x : samples) {
            for (float v : x) {
                max = Math.max(max, Math.abs(v));
            }
        }
        assertEquals(max, whole.max(), 0f, "the maximum is exact");
    }

    @Test
    void aPercentileIsTheUpperEdgeOfItsBinAtMostOneBinAboveTheExactQuantile() {
        float[] x = gaussian(3, 100_000, 1.0);
        ActivationRange range = new ActivationRange().add(x);
        float[] abs = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            abs[i] = Math.abs(x[i]);
        }
        Arrays.sort(abs);
        for (double q : new double[] {0.5, 0.9, 0.99, 0.999, 0.9999}) {
            float exact = abs[(int) Math.ceil(q * abs.length) - 1];
            float p = range.percentile(q);
            assertTrue(p >= exact, q + ": " + p + " below the exact quantile " + exact);
            assertTrue(p <= exact * (1 + 1.0 / ActivationRange.BINS_PER_OCTAVE) * 1.0001, q + ": " + p + " more than a bin above " + exact);
        }
        assertEquals(range.max(), range.percentile(1.0), 0f);
        assertThrows(IllegalArgumentException.class, () -> range.percentile(0));
    }

    @Test
    void theMseClipCutsRareOutliersAtFewBitsAndKeepsTheRangeAtMany() {
        float[] body = gaussian(5, 20_000, 1.0);
        float[] x = Arrays.copyOf(body, body.length + 2);
        x[body.length] = 50f; // rare outliers, as some channels of LLM activations have
        x[body.length + 1] = -50f;
        ActivationRange range = new ActivationRange().add(x);
        float clip4 = range.mseOptimalClip(4);
        assertTrue(clip4 < 10f, "4 bits: clipping 2 outliers costs less than steps of 50/7 on 20000 values: " + clip4);
        double chosen = actualMse(x, clip4, 4);
        assertTrue(chosen < actualMse(x, range.max(), 4) / 3, "and so it is for the real quantizer: " + chosen + " at " + clip4
                + " vs " + actualMse(x, range.max(), 4) + " at the maximum");
        double best = Double.POSITIVE_INFINITY;
        for (double c = 0.5; c <= 50; c += 0.05) {
            best = Math.min(best, actualMse(x, (float) c, 4));
        }
        assertTrue(chosen <= best * 1.15, "the histogram's clip is within 15% of the best clip on the data: " + chosen + " vs " + best);

        ActivationRange uniform = new ActivationRange().add(uniform(9, 20_000));
        assertTrue(uniform.mseOptimalClip(8) > 0.9f * uniform.max(), "8 bits over a uniform range: no clipping to speak of");
    }

    private static float[] uniform(long seed, int n) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = r.nextFloat() * 2 - 1;
        }
        return out;
    }

    /** Mean squared error of symmetric b-bit round-to-nearest with scale clip / (2^(b-1) - 1). */
    private static double actualMse(float[] x, float clip, int bits) {
        int levels = (1 << (bits - 1)) - 1;
        double scale = clip / levels;
        double sum = 0;
        for (float v : x) {
            double q = Math.max(-levels - 1, Math.min(levels, Math.rint(v / scale))) * scale;
            sum += (v - q) * (v - q);
        }
        return sum / x.length;
    }

    @Test
    void zerosCountAndNonFiniteValuesAreRefused() {
        ActivationRange r = new ActivationRange().add(new float[] {0f, -0f, 1f});
        assertEquals(3, r.count());
        assertEquals(0f, r.percentile(0.5), 0f, "two of three are zero");
        assertThrows(ArithmeticException.class, () -> new ActivationRange().add(new float[] {Float.NaN}));
        assertThrows(ArithmeticException.class, () -> new ActivationRange().add(new float[] {Float.POSITIVE_INFINITY}));
        assertEquals(0f, new ActivationRange().mseOptimalClip(8), 0f);
    }
}
