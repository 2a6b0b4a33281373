package dev.qig.quant;

import java.util.Arrays;

/**
 * The range of one linear input site (a group's input: q/k/v share one, o, gate/up, down) over the
 * calibration tokens: per channel the largest |x|, in full precision. What the static schemes'
 * per-tensor activation scales are calibrated from. A max is exact and commutative, so the ranges of
 * a stream of samples merge ({@link #plus}) to the batch's in any order and grouping, bit for bit.
 *
 * <p>Per channel rather than per tensor because the scales of the equalizing methods divide each
 * channel of the input by its own s: the served input's range is {@code max_c absMax[c] / s[c]}
 * ({@link #scaledAbsMax}), known exactly for any scales chosen later.
 */
public final class InputRange {

    private final float[] channelAbsMax;

    private InputRange(float[] channelAbsMax) {
        this.channelAbsMax = channelAbsMax;
    }

    /**
     * @throws ArithmeticException if a value is NaN, infinite or negative
     */
    public static InputRange of(float[] channelAbsMax) {
        for (int c = 0; c < channelAbsMax.length; c++) {
            float v = channelAbsMax[c];
            if (!(v >= 0) || Float.isInfinite(v)) {
                throw new ArithmeticException("channel " + c + " range " + v);
            }
        }
        return new InputRange(channelAbsMax.clone());
    }

    /** Per channel the larger of the two ranges. */
    public InputRange plus(InputRange o) {
        if (o.channelAbsMax.length != channelAbsMax.length) {
            throw new IllegalArgumentException("ranges of " + channelAbsMax.length + " and " + o.channelAbsMax.length
                    + " channels cannot be merged");
        }
        float[] m = new float[channelAbsMax.length];
        for (int c = 0; c < m.length; c++) {
            m[c] = Math.max(channelAbsMax[c], o.channelAbsMax[c]);
        }
        return new InputRange(m);
    }

    public float[] channelAbsMax() {
        return channelAbsMax.clone();
    }

    public int channels() {
        return channelAbsMax.length;
    }

    /** max over channels of |x| / s (s null: all 1): the range of the input once the scales are folded. */
    public float scaledAbsMax(float[] scales) {
        if (scales != null && scales.length != channelAbsMax.length) {
            throw new IllegalArgumentException(scales.length + " scales for " + channelAbsMax.length + " channels");
        }
        float m = 0;
        for (int c = 0; c < channelAbsMax.length; c++) {
            m = Math.max(m, scales == null ? channelAbsMax[c] : channelAbsMax[c] / scales[c]);
        }
        return m;
    }

    /**
     * The static per-tensor scale for inputs whose largest |x| is {@code absMax} (floored at 1e-5 as
     * the dynamic quantizer): compressed-tensors' {@code input_scale}.
     */
    public static float scaleFor(float absMax, int bits) {
        return Math.max(absMax, 1e-5f) / ((1 << (bits - 1)) - 1);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InputRange r && Arrays.equals(channelAbsMax, r.channelAbsMax);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(channelAbsMax);
    }
}
