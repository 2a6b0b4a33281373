package dev.qig.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qig.core.model.NDScope;
import dev.qig.core.model.Scalars;
import ai.djl.ndarray.types.Shape;
import dev.qig.quant.QuantScheme;
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

    /** The weight quantizer of a scheme. */
    public static GroupQuantizer of(QuantScheme scheme) {
        return new GroupQuantizer(scheme.weightBits(), scheme.groupSize(), scheme.symmetric());
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
        NDArray[] grid = grid(w);
        NDArray q = grid[0];
        NDArray scale = grid[1];
        NDArray out = symmetric ? q.mul(scale) : q.sub(grid[2]).mul(scale);
        return out.reshape(w.getShape()).toType(w.getDataType(), false);
    }

    /**
     * The integer grid of a weight (q, scale and, when asymmetric, zero; shaped (rows, groups, g)
     * and (rows, groups, 1)): the one computation behind both the fake-quantized weight and the
     * integers an export stores, so the two cannot differ.
     */
    private NDArray[] grid(NDArray w) {
        Shape shape = w.getShape();
        long rows = shape.get(0);
        long in = shape.get(1);
        int g = effectiveGroupSize(in);
        NDArray x = w.toType(DataType.FLOAT32, false).reshape(rows, in / g, g);
        if (symmetric) {
            int qmax = (1 << (bits - 1)) - 1;
            NDArray scale = Scalars.div(Scalars.maximum(x.abs().max(new int[] {-1}, true), 1e-5f), qmax);
            return new NDArray[] {x.div(scale).round().clip(-qmax - 1, qmax), scale};
        }
        int qmax = (1 << bits) - 1;
        NDArray max = x.max(new int[] {-1}, true);
        NDArray min = x.min(new int[] {-1}, true);
        NDArray scale = Scalars.div(Scalars.maximum(max.sub(min), 1e-5f), qmax);
        NDArray zero = min.div(scale).round().neg().clip(0, qmax);
        return new NDArray[] {x.div(scale).round().add(zero).clip(0, qmax), scale, zero};
    }

    /**
     * The integers of a weight (out, in) as this quantizer rounds it.
     *
     * @param rows output rows
     * @param columns input columns
     * @param groupSize columns per group (the effective one: the whole row when the group size does not divide it)
     * @param values row-major, signed in [-2^(b-1), 2^(b-1)-1] when symmetric, unsigned in [0, 2^b-1] when not
     * @param scales per (row, group), row-major
     * @param zeros per (row, group) in [0, 2^b-1]; null when symmetric
     */
    public record Codes(int rows, int columns, int groupSize, int[] values, float[] scales, int[] zeros) {

        public int groups() {
            return columns / groupSize;
        }

        /** The fake-quantized value at (row, column): (q - zero) * scale in float32, as {@link #apply} computes it. */
        public float dequantized(int row, int column) {
            int group = row * groups() + column / groupSize;
            int q = values[row * columns + column];
            return (zeros == null ? q : q - zeros[group]) * scales[group];
        }
    }

    /** The integers, scales and zero points of a weight (out, in); {@link #apply} returns exactly their dequantized values. */
    public Codes codes(NDArray w) {
        long rows = w.getShape().get(0);
        long in = w.getShape().get(1);
        try (ai.djl.ndarray.NDManager scope = w.getManager().newSubManager()) {
            w.tempAttach(scope);
            NDArray[] grid = grid(w);
            return new Codes(Math.toIntExact(rows), Math.toIntExact(in), effectiveGroupSize(in),
                    grid[0].toType(DataType.INT32, false).toIntArray(), grid[1].toFloatArray(),
                    symmetric ? null : grid[2].toType(DataType.INT32, false).toIntArray());
        }
    }

    public int bits() {
        return bits;
    }

    public boolean symmetric() {
        return symmetric;
    }

    @Override
    public String toString() {
        return "W" + bits + (groupSize > 0 ? " g" + groupSize : " per-row") + (symmetric ? " sym" : " asym");
    }
}
