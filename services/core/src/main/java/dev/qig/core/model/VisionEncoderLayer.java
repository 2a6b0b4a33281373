package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Pre-norm ViT block with CLIP's and SigLIP's names: {@code x + attn(layer_norm1(x))}, then
 * {@code x + fc2(act(fc1(layer_norm2(x))))}. Full (bidirectional) attention over the patches.
 */
public final class VisionEncoderLayer extends ModelBlock {

    private final int heads;
    private final int headDim;
    private final HiddenAct act;
    private final LayerNorm norm1;
    private final LayerNorm norm2;
    private final QuantizableLinear q;
    private final QuantizableLinear k;
    private final QuantizableLinear v;
    private final QuantizableLinear out;
    private final QuantizableLinear fc1;
    private final QuantizableLinear fc2;

    public VisionEncoderLayer(WeightRegistry registry, String prefix, LvlmConfig c) {
        super(registry, prefix);
        int d = c.visionHidden();
        this.heads = c.visionHeads();
        this.headDim = c.visionHeadDim();
        this.act = c.visionAct();
        this.norm1 = addChildBlock("layer_norm1", new LayerNorm(registry, child("layer_norm1"), d, c.layerNormEps()));
        this.q = addChildBlock("q_proj", new QuantizableLinear(registry, child("self_attn.q_proj"), d, d, true));
        this.k = addChildBlock("k_proj", new QuantizableLinear(registry, child("self_attn.k_proj"), d, d, true));
        this.v = addChildBlock("v_proj", new QuantizableLinear(registry, child("self_attn.v_proj"), d, d, true));
        this.out = addChildBlock("out_proj", new QuantizableLinear(registry, child("self_attn.out_proj"), d, d, true));
        this.norm2 = addChildBlock("layer_norm2", new LayerNorm(registry, child("layer_norm2"), d, c.layerNormEps()));
        this.fc1 = addChildBlock("fc1", new QuantizableLinear(registry, child("mlp.fc1"), d, c.visionIntermediate(), true));
        this.fc2 = addChildBlock("fc2", new QuantizableLinear(registry, child("mlp.fc2"), c.visionIntermediate(), d, true));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDArray h = norm1.forward1(ps, x, training);
        NDArray qh = q.forward1(ps, h, training).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray kh = k.forward1(ps, h, training).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray vh = v.forward1(ps, h, training).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray context = Scalars.div(qh.matMul(kh.transpose(0, 1, 3, 2)), (float) Math.sqrt(headDim)).softmax(-1).matMul(vh)
                .transpose(0, 2, 1, 3)
                .reshape(b, t, (long) heads * headDim);
        x = x.add(out.forward1(ps, context, training));
        NDArray mlp = fc2.forward1(ps, act.apply(fc1.forward1(ps, norm2.forward1(ps, x, training), training)), training);
        return new NDList(x.add(mlp));
    }
}
