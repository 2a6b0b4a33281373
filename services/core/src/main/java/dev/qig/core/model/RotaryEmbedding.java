package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in the Hugging Face "rotate half" layout used by Llama and Qwen2: channel
 * i is paired with channel i + d/2 and the pair is rotated by {@code pos * theta^(-2i/d)}.
 *
 * <p>The tables are computed in float64 for the test-bed model, or, for Hugging Face checkpoints, in
 * float32 step by step as transformers' default rotary embedding does ({@code inv_freq}, then
 * {@code position * inv_freq}): at position 800 the two differ by up to 3e-5 rad, enough to leave a
 * transformers-exact forward pass.
 */
public final class RotaryEmbedding {

    private final int headDim;
    private final double theta;
    private final boolean float32;

    public RotaryEmbedding(int headDim, double theta, boolean float32) {
        this.headDim = headDim;
        this.theta = theta;
        this.float32 = float32;
    }

    /** cos and sin tables for positions {@code 0..length-1}, each of shape (length, headDim). */
    public NDArray[] tables(NDManager manager, int length) {
        int half = headDim / 2;
        float[] cos = new float[length * headDim];
        float[] sin = new float[length * headDim];
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), every step in float32
            invFreq[i] = 1.0f / (float) Math.pow((float) theta, (float) (2 * i) / (float) headDim);
        }
        for (int pos = 0; pos < length; pos++) {
            for (int i = 0; i < half; i++) {
                double angle = float32 ? (double) ((float) pos * invFreq[i]) : pos * Math.pow(theta, -2.0 * i / headDim);
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cos[pos * headDim + i] = c;
                cos[pos * headDim + i + half] = c;
                sin[pos * headDim + i] = s;
                sin[pos * headDim + i + half] = s;
            }
        }
        Shape shape = new Shape(length, headDim);
        return new NDArray[] {Scalars.constant(manager, cos, shape), Scalars.constant(manager, sin, shape)};
    }

    /** Rotates x of shape (..., length, headDim) with tables from {@link #tables}. */
    public NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        int half = headDim / 2;
        NDArray first = x.get(new NDIndex("..., :{}", half));
        NDArray second = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = NDArrays.concat(new NDList(second.neg(), first), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
