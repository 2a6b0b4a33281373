package dev.qig.quant;

import java.util.Arrays;

/**
 * The range statistic of one linear input for static (calibrated, per-tensor) activation
 * quantization: the largest |x| seen and a histogram of |x| over every element, in bins of 1/16
 * of an octave (the float's exponent and its top four mantissa bits, so about 4.4% wide). Both
 * merge exactly and in any order (a maximum, and integer counts), so a stream of samples summed by
 * any number of attributors in any order gives the same statistic, as the partial sums do.
 *
 * <p>From it come the clipping values a static scale is built from: the maximum, a percentile
 * ({@link #percentile}), or the clip that minimises the expected squared error of a b-bit symmetric
 * quantizer over the histogram ({@link #mseOptimalClip}). The scale is then {@code clip / (2^(b-1) - 1)}.
 */
public final class ActivationRange {

    /** Bins per octave: 2^4, from the top four mantissa bits. */
    static final int BINS_PER_OCTAVE = 16;
    /** Exponents of float32 normal numbers, [-126, 127], plus one bin row for subnormals. */
    private static final int OCTAVES = 255;
    private static final int BINS = OCTAVES * BINS_PER_OCTAVE;

    private final long[] counts;
    private long zeros;
    private float max;

    public ActivationRange() {
        this.counts = new long[BINS];
    }

    private ActivationRange(long[] counts, long zeros, float max) {
        this.counts = counts;
        this.zeros = zeros;
        this.max = max;
    }

    /**
     * Adds every element of {@code values}.
     *
     * @throws ArithmeticException for a NaN or infinite value (the attributor dead-letters its sample)
     */
    public ActivationRange add(float[] values) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new ArithmeticException("a non-finite activation: " + v);
            }
            float a = Math.abs(v);
            if (a == 0f) {
                zeros++;
                continue;
            }
            counts[bin(a)]++;
            if (a > max) {
                max = a;
            }
        }
        return this;
    }

    /** This statistic and {@code other} together: exact, and the same in any order or grouping. */
    public ActivationRange plus(ActivationRange other) {
        long[] sum = counts.clone();
        for (int i = 0; i < BINS; i++) {
            sum[i] += other.counts[i];
        }
        return new ActivationRange(sum, zeros + other.zeros, Math.max(max, other.max));
    }

    /** Elements seen. */
    public long count() {
        long n = zeros;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    /** The largest |x| seen (0 before any). */
    public float max() {
        return max;
    }

    /**
     * The |x| below which a fraction {@code q} of the elements lie, as the upper edge of the bin that
     * holds the q-quantile (so at most one bin, 4.4%, above the exact quantile), never above the maximum.
     */
    public float percentile(double q) {
        if (!(q > 0 && q <= 1)) {
            throw new IllegalArgumentException("q must be in (0, 1], got " + q);
        }
        long n = count();
        if (n == 0) {
            return 0f;
        }
        long need = (long) Math.ceil(q * n);
        long seen = zeros;
        if (seen >= need) {
            return 0f;
        }
        for (int i = 0; i < BINS; i++) {
            seen += counts[i];
            if (seen >= need) {
                return Math.min(upperEdge(i), max);
            }
        }
        return max;
    }

    /**
     * The clip c, among the bins' upper edges up to the maximum, that minimises the expected squared
     * error of a b-bit symmetric quantizer with scale {@code c / (2^(b-1) - 1)} over the histogram:
     * each element in a bin counts as the bin's middle; below c it costs the rounding error
     * step²/12, above c the clipping error (x - c)².
     */
    public float mseOptimalClip(int bits) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("bits must be in [2, 16], got " + bits);
        }
        if (max == 0f) {
            return 0f;
        }
        int levels = (1 << (bits - 1)) - 1;
        int top = bin(max);
        int low = 0;
        while (counts[low] == 0) {
            low++;
        }
        float best = max;
        double bestError = Double.POSITIVE_INFINITY;
        for (int candidate = low; candidate <= top; candidate++) {
            double c = candidate == top ? max : upperEdge(candidate);
            double step = c / levels;
            double error = 0;
            for (int i = low; i <= top; i++) {
                if (counts[i] == 0) {
                    continue;
                }
                double x = middle(i);
                error += counts[i] * (x <= c ? step * step / 12 : (x - c) * (x - c));
            }
            error += zeros * step * step / 12;
            if (error < bestError) {
                bestError = error;
                best = (float) c;
            }
        }
        return best;
    }

    /** The bin of a positive finite float: its biased exponent and top four mantissa bits. */
    static int bin(float a) {
        int bits = Float.floatToRawIntBits(a);
        return (bits >>> (23 - 4)) & ((1 << 12) - 1); // 8 exponent bits + 4 mantissa bits, the sign cleared by abs
    }

    /** The smallest float above every value of bin i. */
    static float upperEdge(int i) {
        return Float.intBitsToFloat((i + 1) << (23 - 4));
    }

    private static double middle(int i) {
        double lo = Float.intBitsToFloat(i << (23 - 4));
        return (lo + upperEdge(i)) / 2;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ActivationRange r && r.zeros == zeros && Float.compare(r.max, max) == 0
                && Arrays.equals(r.counts, counts);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(counts) + Long.hashCode(zeros) * 17 + Float.hashCode(max);
    }
}
