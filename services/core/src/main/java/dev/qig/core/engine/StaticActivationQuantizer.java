package dev.qig.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qig.core.model.NDScope;
import dev.qig.quant.InputRange;
import java.util.function.UnaryOperator;

/**
 * Static per-tensor symmetric fake quantization of a linear's input with a calibrated scale:
 * {@code x' = clamp(rint(x / scale), -2^(b-1), 2^(b-1) - 1) * scale}; values beyond the calibrated
 * range are clipped, which is what makes the result depend on the calibration data. The scale is
 * compressed-tensors' {@code input_scale} ({@code range / (2^(b-1) - 1)}).
 */
public final class StaticActivationQuantizer implements UnaryOperator<NDArray> {

    private final int bits;
    private final float scale;

    public StaticActivationQuantizer(int bits, float scale) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("bits must be in [2, 16], got " + bits);
        }
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale must be finite and > 0, got " + scale);
        }
        this.bits = bits;
        this.scale = scale;
    }

    /** The scale for inputs whose largest |x| is {@code absMax} (floored at 1e-5 as the dynamic quantizer). */
    public static float scaleFor(float absMax, int bits) {
        return InputRange.scaleFor(absMax, bits);
    }

    public float scale() {
        return scale;
    }

    @Override
    public NDArray apply(NDArray x) {
        return NDScope.apply(x, this::compute);
    }

    private NDArray compute(NDArray x) {
        NDArray xf = x.toType(DataType.FLOAT32, false);
        return ActivationQuantizer.onGrid(x, xf, xf.getManager().create(scale), bits);
    }

    @Override
    public String toString() {
        return "A" + bits + " static per-tensor scale " + scale;
    }
}
