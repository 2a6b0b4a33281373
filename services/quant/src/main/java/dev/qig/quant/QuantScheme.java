package dev.qig.quant;

import dev.qig.util.EnumIds;

/**
 * A post-training quantization scheme of the decoder linears (qig-method.md section 1). W3A16 and
 * W4A8 are the paper's settings; W4A16 and W8A8 are near-lossless sanity rows. W2A16 and W4A4 are
 * stress settings: on the shipped model every method sits within evaluation noise of full
 * precision at the paper's settings, while at two-bit weights or four-bit activations the choice of
 * scales changes answers (README, "Stress schemes"). The static schemes quantize activations with one
 * calibrated scale per linear input (per tensor), as INT8 serving with static activation scales
 * does: their result depends on the calibration data's ranges ({@link InputRange}).
 */
public enum QuantScheme {
    /** 3-bit weights, asymmetric, groups of 128 input channels; activations in full precision. */
    W3A16(3, 128, false, 16),
    /** 4-bit weights, symmetric per output row; 8-bit per-token symmetric activations. */
    W4A8(4, 0, true, 8),
    /** 4-bit weights, asymmetric, groups of 128; a near-lossless sanity row. */
    W4A16(4, 128, false, 16),
    /** 8-bit weights per row, 8-bit activations; a near-lossless sanity row. */
    W8A8(8, 0, true, 8),
    /** Stress: 2-bit weights, asymmetric, groups of 64; activations in full precision. */
    W2A16(2, 64, false, 16),
    /** Stress: 4-bit weights, symmetric per output row; 4-bit per-token symmetric activations. */
    W4A4(4, 0, true, 4),
    /** 8-bit weights per row; 8-bit activations with a static per-tensor scale per linear input. */
    W8A8_STATIC(8, 0, true, 8, true),
    /** 4-bit weights per row; 8-bit activations with a static per-tensor scale per linear input. */
    W4A8_STATIC(4, 0, true, 8, true);

    private final int weightBits;
    private final int groupSize;
    private final boolean symmetric;
    private final int activationBits;
    private final boolean staticActivations;

    QuantScheme(int weightBits, int groupSize, boolean symmetric, int activationBits) {
        this(weightBits, groupSize, symmetric, activationBits, false);
    }

    QuantScheme(int weightBits, int groupSize, boolean symmetric, int activationBits, boolean staticActivations) {
        this.weightBits = weightBits;
        this.groupSize = groupSize;
        this.symmetric = symmetric;
        this.activationBits = activationBits;
        this.staticActivations = staticActivations;
    }

    /** Lower case, '-' for '_': w3a16, ..., w8a8-static. */
    public String id() {
        return EnumIds.dashedId(this);
    }

    public static QuantScheme parse(String s) {
        return EnumIds.parseDashed(QuantScheme.class, "scheme", s);
    }

    /** True when activations take a calibrated per-tensor scale (the "-static" schemes). */
    public boolean staticActivations() {
        return staticActivations;
    }

    /**
     * The same scheme with dynamic per-token activations: what the scale search of a static scheme
     * quantizes its candidates' inputs with (the per-tensor scales are calibrated afterwards from
     * the round's ranges, as SmoothQuant does), and the scheme itself otherwise.
     */
    public QuantScheme dynamicCounterpart() {
        return switch (this) {
            case W8A8_STATIC -> W8A8;
            case W4A8_STATIC -> W4A8;
            default -> this;
        };
    }

    public int weightBits() {
        return weightBits;
    }

    /** Input channels per quantization group; 0 means one group per output row. */
    public int groupSize() {
        return groupSize;
    }

    public boolean symmetric() {
        return symmetric;
    }

    public int activationBits() {
        return activationBits;
    }

    /** True when linear inputs are fake-quantized too (the "A8" schemes). */
    public boolean quantizesActivations() {
        return activationBits < 16;
    }
}
