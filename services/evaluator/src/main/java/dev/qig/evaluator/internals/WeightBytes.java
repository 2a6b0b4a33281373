package dev.qig.evaluator.internals;

import dev.qig.core.engine.GroupQuantizer;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.quant.QuantScheme;

/**
 * Storage of the decoder's linear weights as a deployment would keep them: every weight at the
 * scheme's bit width, plus per quantization group one 16-bit scale and, for asymmetric schemes, one
 * zero point at the weight bit width; bits packed densely and rounded up to whole bytes per
 * matrix. Equalization scales cost nothing (they are folded into the previous op), nor do
 * activation quantizers (dynamic, per token). Full precision is 4 bytes per weight.
 */
public final class WeightBytes {

    /** Bits of a stored group scale (fp16). */
    static final int SCALE_BITS = 16;

    private WeightBytes() {}

    /** Bytes of one (rows x in) weight matrix under a scheme. */
    public static long matrix(long rows, long in, QuantScheme scheme) {
        if (rows <= 0 || in <= 0) {
            throw new IllegalArgumentException("a weight matrix needs positive dimensions, got " + rows + " x " + in);
        }
        long groups = rows * (in / GroupQuantizer.of(scheme).effectiveGroupSize(in));
        long bits = rows * in * scheme.weightBits() + groups * SCALE_BITS
                + (scheme.symmetric() ? 0 : groups * scheme.weightBits());
        return (bits + 7) / 8;
    }

    /** Bytes of every decoder linear's weight under a scheme. */
    public static long decoder(VisionLanguageModel model, QuantScheme scheme) {
        long total = 0;
        for (QuantizableLinear l : model.decoderLinears()) {
            total += matrix(l.outFeatures(), l.inFeatures(), scheme);
        }
        return total;
    }

    /** Bytes of every decoder linear's weight in float32. */
    public static long decoderFullPrecision(VisionLanguageModel model) {
        long total = 0;
        for (QuantizableLinear l : model.decoderLinears()) {
            total += 4L * l.outFeatures() * l.inFeatures();
        }
        return total;
    }
}
