package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Llama/Qwen2 self-attention: q, k, v (with bias in Qwen2), rotary positions, grouped-query heads (each key/value
 * head serves {@code heads / kvHeads} consecutive query heads), causal mask, o (bias only under Llama's attention_bias).
 * Input is the normalized hidden state; output is o's output. This is the "module to inspect" of
 * the qkv equalization group.
 */
public final class DecoderAttention extends ModelBlock {

    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final RotaryEmbedding rope;
    private final QuantizableLinear q;
    private final QuantizableLinear k;
    private final QuantizableLinear v;
    private final QuantizableLinear o;
    private Consumer<NDArray> probabilityListener;

    public DecoderAttention(WeightRegistry registry, String prefix, LvlmConfig c) {
        super(registry, prefix);
        this.heads = c.heads();
        this.kvHeads = c.kvHeads();
        this.headDim = c.headDim();
        this.rope = new RotaryEmbedding(headDim, c.ropeTheta(), c.float32Rope());
        int d = c.hidden();
        int kvWidth = kvHeads * headDim;
        boolean qkvBias = c.attentionBias();
        this.q = addChildBlock("q_proj", new QuantizableLinear(registry, child("q_proj"), d, heads * headDim, qkvBias));
        this.k = addChildBlock("k_proj", new QuantizableLinear(registry, child("k_proj"), d, kvWidth, qkvBias));
        this.v = addChildBlock("v_proj", new QuantizableLinear(registry, child("v_proj"), d, kvWidth, qkvBias));
        this.o = addChildBlock("o_proj", new QuantizableLinear(registry, child("o_proj"), heads * headDim, d, c.outputBias()));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        long b = x.getShape().get(0);
        int t = Math.toIntExact(x.getShape().get(1));
        int group = heads / kvHeads;
        NDManager m = x.getManager();
        NDArray[] cs = rope.tables(m, t);

        // (B,T,H*hd) -> (B,H,T,hd), rotate, then view query heads as (B,KV,G,T,hd) so keys/values
        // broadcast over the G query heads of their group instead of being copied.
        NDArray qh = rope.apply(q.forward1(ps, x, training).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3), cs[0], cs[1])
                .reshape(b, kvHeads, group, t, headDim);
        NDArray kh = rope.apply(k.forward1(ps, x, training).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3), cs[0], cs[1])
                .reshape(b, kvHeads, 1, t, headDim);
        NDArray vh = v.forward1(ps, x, training).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3)
                .reshape(b, kvHeads, 1, t, headDim);

        NDArray scores = Scalars.div(qh.matMul(kh.transpose(0, 1, 2, 4, 3)), (float) Math.sqrt(headDim)).add(causalMask(m, t));
        NDArray probabilities = scores.softmax(-1); // (B,KV,G,T,T)
        if (probabilityListener != null) {
            probabilityListener.accept(probabilities);
        }
        NDArray context = probabilities.matMul(vh) // (B,KV,G,T,hd)
                .reshape(b, heads, t, headDim)
                .transpose(0, 2, 1, 3)
                .reshape(b, t, heads * headDim);
        return new NDList(o.forward1(ps, context, training));
    }

    /** (T,T) additive mask: 0 on and below the diagonal, -inf above it. */
    static NDArray causalMask(NDManager m, int t) {
        float[] mask = new float[t * t];
        for (int i = 0; i < t; i++) {
            for (int j = i + 1; j < t; j++) {
                mask[i * t + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return Scalars.constant(m, mask, new Shape(t, t));
    }

    /**
     * Hands the attention probabilities of every forward, shape (B, kvHeads, heads / kvHeads, T, T)
     * with query head {@code kv * group + g} at {@code [:, kv, g]}, to a listener (training losses
     * that supervise attention read them inside the recorded graph); null removes it. The array is
     * valid during the call only (the layer's temporaries are freed as it ends): keep a slice attached
     * to a manager of your own.
     */
    public void setProbabilityListener(Consumer<NDArray> listener) {
        this.probabilityListener = listener;
    }

    public QuantizableLinear q() {
        return q;
    }

    public QuantizableLinear k() {
        return k;
    }

    public QuantizableLinear v() {
        return v;
    }

    public QuantizableLinear o() {
        return o;
    }

    public List<QuantizableLinear> linears() {
        return List.of(q, k, v, o);
    }
}
