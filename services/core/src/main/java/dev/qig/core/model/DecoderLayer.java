package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/** Pre-norm Llama/Qwen2 decoder layer: {@code h = x + attn(norm1(x)); out = h + mlp(norm2(h))}. */
public final class DecoderLayer extends ModelBlock {

    private final int index;
    private final RmsNorm inputNorm;
    private final DecoderAttention attention;
    private final RmsNorm postAttentionNorm;
    private final SwiGluMlp mlp;

    public DecoderLayer(WeightRegistry registry, String prefix, int index, LvlmConfig c) {
        super(registry, prefix);
        this.index = index;
        this.inputNorm = addChildBlock("input_layernorm", new RmsNorm(registry, child("input_layernorm"), c.hidden(), c.rmsNormEps()));
        this.attention = addChildBlock("self_attn", new DecoderAttention(registry, child("self_attn"), c));
        this.postAttentionNorm = addChildBlock(
                "post_attention_layernorm", new RmsNorm(registry, child("post_attention_layernorm"), c.hidden(), c.rmsNormEps()));
        this.mlp = addChildBlock("mlp", new SwiGluMlp(registry, child("mlp"), c.hidden(), c.intermediate(), c.mlpBias()));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray h = x.add(attention.forward1(ps, inputNorm.forward1(ps, x, training), training));
        return new NDList(h.add(mlp.forward1(ps, postAttentionNorm.forward1(ps, h, training), training)));
    }

    public int index() {
        return index;
    }

    public RmsNorm inputNorm() {
        return inputNorm;
    }

    public DecoderAttention attention() {
        return attention;
    }

    public RmsNorm postAttentionNorm() {
        return postAttentionNorm;
    }

    public SwiGluMlp mlp() {
        return mlp;
    }

    /** q, k, v, o, gate, up, down: the linears post-training quantization touches. */
    public List<QuantizableLinear> linears() {
        List<QuantizableLinear> all = new ArrayList<>(attention.linears());
        all.addAll(mlp.linears());
        return all;
    }
}
