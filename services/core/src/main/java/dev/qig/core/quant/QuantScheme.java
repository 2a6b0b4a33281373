package dev.qig.core.quant;

import dev.qig.core.util.EnumIds;
import java.util.Locale;

/**
 * A post-training quantization scheme of the decoder linears (qig-method.md section 1). W3A16 and
 * W4A8 are the paper's settings; W4A16 and W8A8 are near-lossless sanity rows.
 */
public enum QuantScheme {
    W3A16(3, 128, false, 16),
    W4A8(4, 0, true, 8),
    W4A16(4, 128, false, 16),
    W8A8(8, 0, true, 8);

    private final int weightBits;
    private final int groupSize;
    private final boolean symmetric;
    private final int activationBits;

    QuantScheme(int weightBits, int groupSize, boolean symmetric, int activationBits) {
        this.weightBits = weightBits;
        this.groupSize = groupSize;
        this.symmetric = symmetric;
        this.activationBits = activationBits;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static QuantScheme parse(String s) {
        return EnumIds.parse(QuantScheme.class, "scheme", s);
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

    public GroupQuantizer weightQuantizer() {
        return new GroupQuantizer(weightBits, groupSize, symmetric);
    }

    /** The per-token input quantizer, or null for weight-only schemes. */
    public ActivationQuantizer activationQuantizer() {
        return quantizesActivations() ? new ActivationQuantizer(activationBits) : null;
    }
}
