package dev.qig.core.model;

import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** LLaVA's multi-modal projector: {@code linear_2(act(linear_1(v)))}, vision width -> decoder width. */
public final class Projector extends ModelBlock {

    private final QuantizableLinear linear1;
    private final QuantizableLinear linear2;
    private final HiddenAct act;

    public Projector(WeightRegistry registry, String prefix, int visionWidth, int textWidth, HiddenAct act) {
        super(registry, prefix);
        this.act = act;
        this.linear1 = addChildBlock("linear_1", new QuantizableLinear(registry, child("linear_1"), visionWidth, textWidth, true));
        this.linear2 = addChildBlock("linear_2", new QuantizableLinear(registry, child("linear_2"), textWidth, textWidth, true));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(linear2.forward1(ps, act.apply(linear1.forward1(ps, inputs.head(), training)), training));
    }
}
