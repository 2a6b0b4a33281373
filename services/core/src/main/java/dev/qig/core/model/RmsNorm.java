package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** Qwen2's RMSNorm over the last axis: {@code x / sqrt(mean(x^2) + eps) * weight}. */
public final class RmsNorm extends ModelBlock {

    private final Parameter weight;
    private final float eps;
    private final InPlaceWeight weightSlot;

    public RmsNorm(WeightRegistry registry, String prefix, int width, double eps) {
        super(registry, prefix);
        this.weight = param("weight", Init.ONES, width);
        this.eps = (float) eps;
        this.weightSlot = new InPlaceWeight(prefix + ".weight", weight);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return new NDList(x.div(rms).mul(value(ps, weight, x, training)));
    }

    /** The live scale vector. */
    public NDArray weight() {
        return weight.getArray();
    }

    /** The scale vector as a replaceable slot: equalization divides it by per-channel scales. */
    public InPlaceWeight weightSlot() {
        return weightSlot;
    }
}
