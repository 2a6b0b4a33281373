package dev.qig.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qig.core.model.NDScope;
import dev.qig.core.model.Scalars;
import dev.qig.quant.QuantScheme;
import java.util.function.UnaryOperator;

/**
 * Dynamic per-token symmetric fake quantization of a linear's input (each row along the last axis
 * is a token): {@code scale = max(absmax, 1e-5) / (2^(b-1) - 1)},
 * {@code x' = clamp(rint(x / scale), -2^(b-1), 2^(b-1) - 1) * scale}, recomputed on every call.
 */
public final class ActivationQuantizer implements UnaryOperator<NDArray> {

    private final int bits;

    public ActivationQuantizer(int bits) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("bits must be in [2, 16], got " + bits);
        }
        this.bits = bits;
    }

    /**
     * The per-token input quantizer of a scheme, or null for weight-only schemes. For a static scheme
     * this is its dynamic counterpart's: the static one needs the config's scales ({@link StaticActivationQuantizer}).
     */
    public static ActivationQuantizer of(QuantScheme scheme) {
        return scheme.quantizesActivations() ? new ActivationQuantizer(scheme.activationBits()) : null;
    }

    public int bits() {
        return bits;
    }

    /** The quantized copy; its temporaries live and die in a scope, the result on the input's manager. */
    @Override
    public NDArray apply(NDArray x) {
        return NDScope.apply(x, this::compute);
    }

    private NDArray compute(NDArray x) {
        int qmax = (1 << (bits - 1)) - 1;
        NDArray xf = x.toType(DataType.FLOAT32, false);
        NDArray scale = Scalars.div(Scalars.maximum(xf.abs().max(new int[] {-1}, true), 1e-5f), qmax);
        return onGrid(x, xf, scale, bits);
    }

    /**
     * {@code clamp(rint(xf / scale), -2^(b-1), 2^(b-1) - 1) * scale} in float32 ({@code xf} is x in
     * float32, {@code scale} broadcasts), returned in x's type: the grid of both input quantizers.
     */
    static NDArray onGrid(NDArray x, NDArray xf, NDArray scale, int bits) {
        int qmax = (1 << (bits - 1)) - 1;
        return xf.div(scale).round().clip(-qmax - 1, qmax).mul(scale).toType(x.getDataType(), false);
    }

    @Override
    public String toString() {
        return "A" + bits + " per-token sym";
    }
}
