package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** LayerNorm over the last axis only (DJL's own normalizes over every non-batch axis). */
public final class LayerNorm extends ModelBlock {

    private final Parameter weight;
    private final Parameter bias;
    private final float eps;

    public LayerNorm(WeightRegistry registry, String prefix, int width, double eps) {
        super(registry, prefix);
        this.weight = param("weight", Init.ONES, width);
        this.bias = param("bias", Init.ZEROS, width);
        this.eps = (float) eps;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray mean = x.mean(new int[] {-1}, true);
        NDArray centered = x.sub(mean);
        NDArray std = centered.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return new NDList(centered.div(std).mul(value(ps, weight, x, training)).add(value(ps, bias, x, training)));
    }
}
