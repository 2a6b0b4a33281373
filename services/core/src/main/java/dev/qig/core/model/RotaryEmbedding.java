package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in the Hugging Face "rotate half" layout used by Qwen2: channel i is
 * paired with channel i + d/2 and the pair is rotated by {@code pos * theta^(-2i/d)}.
 */
public final class RotaryEmbedding {

    private final int headDim;
    private final double theta;

    public RotaryEmbedding(int headDim, double theta) {
        this.headDim = headDim;
        this.theta = theta;
    }

    /** cos and sin tables for positions {@code 0..length-1}, each of shape (length, headDim). */
    public NDArray[] tables(NDManager manager, int length) {
        int half = headDim / 2;
        float[] cos = new float[length * headDim];
        float[] sin = new float[length * headDim];
        for (int pos = 0; pos < length; pos++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(theta, -2.0 * i / headDim);
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cos[pos * headDim + i] = c;
                cos[pos * headDim + i + half] = c;
                sin[pos * headDim + i] = s;
                sin[pos * headDim + i + half] = s;
            }
        }
        Shape shape = new Shape(length, headDim);
        return new NDArray[] {manager.create(cos, shape), manager.create(sin, shape)};
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
