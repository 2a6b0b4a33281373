package dev.qig.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qig.core.model.NDScope;
import dev.qig.core.model.Scalars;
import ai.djl.ndarray.types.Shape;
import java.util.function.UnaryOperator;

/**
 * Round-to-nearest fake quantization of a weight matrix (out, in) over groups of {@code groupSize}
 * consecutive input channels of each output row (qig-method.md section 1). Asymmetric min-max:
 * {@code scale = max(max-min, 1e-5) / (2^b - 1)}, {@code zero = clamp(-rint(min/scale), 0, 2^b-1)},
 * {@code q = clamp(rint(w/scale) + zero, 0, 2^b-1)}, {@code w' = (q - zero) * scale}. Symmetric:
 * {@code scale = max(absmax, 1e-5) / (2^(b-1) - 1)}, {@code q = clamp(rint(w/scale), -2^(b-1), 2^(b-1)-1)}.
 * PyTorch's round is half-to-even, like {@code Math.rint}. A group size that does not divide the
 * input width, or 0, means one group per row.
 */
public final class GroupQuantizer implements UnaryOperator<NDArray> {

    private final int bits;
    private final int groupSize;
    private final boolean symmetric;

    public GroupQuantizer(int bits, int groupSize, boolean symmetric) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("bits must be in [2, 16], got " + bits);
        }
        this.bits = bits;
        this.groupSize = groupSize;
        this.symmetric = symmetric;
    }

    /** The group size actually used for a layer of this input width (per-row fallback). */
    public int effectiveGroupSize(long inFeatures) {
        return groupSize > 0 && inFeatures % groupSize == 0 ? groupSize : Math.toIntExact(inFeatures);
    }

    /** The quantized copy; its temporaries live and die in a scope, the result on the input's manager. */
    @Override
    public NDArray apply(NDArray w) {
        return NDScope.apply(w, this::compute);
    }

    private NDArray compute(NDArray w) {
        Shape shape = w.getShape();
        long rows = shape.get(0);
        long in = shape.get(1);
        int g = effectiveGroupSize(in);
        NDArray x = w.toType(DataType.FLOAT32, false).reshape(rows, in / g, g);
        NDArray out;
        if (symmetric) {
            int qmax = (1 << (bits - 1)) - 1;
            NDArray scale = Scalars.div(Scalars.maximum(x.abs().max(new int[] {-1}, true), 1e-5f), qmax);
            out = x.div(scale).round().clip(-qmax - 1, qmax).mul(scale);
        } else {
            int qmax = (1 << bits) - 1;
            NDArray max = x.max(new int[] {-1}, true);
            NDArray min = x.min(new int[] {-1}, true);
            NDArray scale = Scalars.div(Scalars.maximum(max.sub(min), 1e-5f), qmax);
            NDArray zero = min.div(scale).round().neg().clip(0, qmax);
            out = x.div(scale).round().add(zero).clip(0, qmax).sub(zero).mul(scale);
        }
        return out.reshape(shape).toType(w.getDataType(), false);
    }

    @Override
    public String toString() {
        return "W" + bits + (groupSize > 0 ? " g" + groupSize : " per-row") + (symmetric ? " sym" : " asym");
    }
}
