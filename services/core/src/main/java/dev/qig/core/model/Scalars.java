package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Tensor-with-scalar arithmetic that is safe inside a gradient collector. DJL's {@code Number}
 * overloads ({@code x.mul(2f)}) put the scalar on a Java direct buffer and close it at once, but
 * PyTorch's autograd keeps that tensor for the backward pass, which then reads freed memory as soon
 * as the garbage collector has run: NaN or silently wrong gradients, now and then
 * (GradientLifetimeTest). Here PyTorch allocates the scalar ({@code full}), so it owns and
 * reference-counts the storage. Use these for every scalar that may end up in a recorded graph.
 */
public final class Scalars {

    private Scalars() {}

    public static NDArray mul(NDArray x, float value) {
        try (NDArray c = of(x, value)) {
            return x.mul(c);
        }
    }

    public static NDArray div(NDArray x, float value) {
        try (NDArray c = of(x, value)) {
            return x.div(c);
        }
    }

    public static NDArray add(NDArray x, float value) {
        try (NDArray c = of(x, value)) {
            return x.add(c);
        }
    }

    public static NDArray maximum(NDArray x, float value) {
        try (NDArray c = of(x, value)) {
            return x.maximum(c);
        }
    }

    /** SiLU ({@code x * sigmoid(x)}), i.e. DJL's swish with beta 1 without its scalar. */
    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }

    /**
     * An array of Java values whose storage PyTorch owns. {@code manager.create(float[])} wraps a Java
     * direct buffer that is freed once its NDArray is closed and collected; a layer's temporaries are
     * closed as the layer ends (before backward), so a table autograd keeps (rotary cos/sin, the
     * causal mask) must be a PyTorch copy.
     */
    public static NDArray constant(NDManager manager, float[] values, Shape shape) {
        try (NDArray wrapped = manager.create(values, shape)) {
            return wrapped.duplicate();
        }
    }

    private static NDArray of(NDArray like, float value) {
        return like.getManager().full(new Shape(), value, like.getDataType());
    }
}
