package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.function.UnaryOperator;

/**
 * The one linear layer of the model, {@code y = x W^T + b}. It is the only place that knows about
 * quantization: it can hand its input to a listener (calibration statistics), have its weight
 * replaced in place by a transformed copy (fake quantization, equalization scales) and restored
 * bit-exactly, and quantize its input before the matmul (A8). The rest of the model stays unaware.
 */
public final class QuantizableLinear extends ModelBlock {

    /**
     * Receives the input of a linear on every forward call (before input quantization). The input is
     * valid during the call only (the model frees each layer's temporaries as the layer ends): a
     * listener that keeps it attaches what it keeps to a manager of its own.
     */
    @FunctionalInterface
    public interface InputListener {
        void onInput(QuantizableLinear linear, NDArray input);
    }

    private final int inFeatures;
    private final int outFeatures;
    private final Parameter weight;
    private final Parameter bias;

    private final InPlaceWeight weightSlot;
    private final InPlaceWeight biasSlot;

    private InputListener listener;
    private UnaryOperator<NDArray> inputQuantizer;
    private NDArray weightOverride;
    private UnaryOperator<NDArray> outputTap;

    public QuantizableLinear(WeightRegistry registry, String prefix, int inFeatures, int outFeatures, boolean withBias) {
        this(registry, prefix, inFeatures, outFeatures, withBias, null);
    }

    private QuantizableLinear(WeightRegistry registry, String prefix, int inFeatures, int outFeatures, boolean withBias,
            Parameter sharedWeight) {
        super(registry, prefix);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = sharedWeight != null ? sharedWeight : param("weight", Init.NORMAL, outFeatures, inFeatures);
        this.bias = withBias ? param("bias", Init.ZEROS, outFeatures) : null;
        this.weightSlot = new InPlaceWeight(prefix + ".weight", weight);
        this.biasSlot = withBias ? new InPlaceWeight(prefix + ".bias", bias) : null;
    }

    /**
     * A bias-free linear whose weight is {@code weight}, a parameter another block owns (tied word
     * embeddings: lm_head computes with the embedding matrix). It registers nothing, so the model holds
     * the matrix once and a loader fills it once.
     */
    public static QuantizableLinear tiedTo(WeightRegistry registry, String prefix, Parameter weight) {
        long[] shape = weight.getShape().getShape();
        return new QuantizableLinear(registry, prefix, Math.toIntExact(shape[1]), Math.toIntExact(shape[0]), false, weight);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        if (listener != null) {
            listener.onInput(this, x);
        }
        if (inputQuantizer != null) {
            x = inputQuantizer.apply(x);
        }
        NDArray w = weightOverride != null ? weightOverride : value(ps, weight, x, training);
        NDArray b = bias == null ? null : value(ps, bias, x, training);
        NDList y = Linear.linear(x, w, b);
        return outputTap == null ? y : new NDList(outputTap.apply(y.head()));
    }

    /** Hugging Face name of this layer, e.g. {@code model.layers.0.self_attn.q_proj}. */
    public String name() {
        return prefix;
    }

    public int inFeatures() {
        return inFeatures;
    }

    public int outFeatures() {
        return outFeatures;
    }

    /** The live weight array, shape (out, in). Edit only through {@link #replaceWeight}. */
    public NDArray weight() {
        return weight.getArray();
    }

    /** The live bias array, or null. */
    public NDArray bias() {
        return bias == null ? null : bias.getArray();
    }

    public void setInputListener(InputListener listener) {
        this.listener = listener;
    }

    /** Applied to every input row before the matmul, e.g. per-token A8 fake quantization; null for none. */
    public void setInputQuantizer(UnaryOperator<NDArray> inputQuantizer) {
        this.inputQuantizer = inputQuantizer;
    }

    public boolean hasInputQuantizer() {
        return inputQuantizer != null;
    }

    /**
     * Replaces the weight in place by {@code transform(weight)}, keeping the original for
     * {@link #restoreWeight}; a second replacement before a restore is refused.
     */
    public void replaceWeight(UnaryOperator<NDArray> transform) {
        weightSlot.replace(transform);
    }

    /** Puts the original weight back, bit for bit. No-op when the weight was never replaced. */
    public void restoreWeight() {
        weightSlot.restore();
    }

    public boolean isWeightReplaced() {
        return weightSlot.isReplaced();
    }

    /** The weight as a replaceable slot (equalization folds scales into it). */
    public InPlaceWeight weightSlot() {
        return weightSlot;
    }

    /** The bias as a replaceable slot, or null when the layer has no bias. */
    public InPlaceWeight biasSlot() {
        return biasSlot;
    }

    /**
     * Uses {@code w} instead of the stored weight in forward calls until cleared with null: lets a
     * calibration search try candidate weights without touching the model (and without in-place
     * edits that would break autograd of a graph that still holds the weight).
     */
    public void setWeightOverride(NDArray w) {
        if (w != null && !w.getShape().equals(weight.getArray().getShape())) {
            throw new IllegalArgumentException(prefix + ": override shape " + w.getShape() + " != " + weight.getArray().getShape());
        }
        this.weightOverride = w;
    }

    /** Receives the output of every forward call and may return a replacement (gradient probes). */
    public void setOutputTap(UnaryOperator<NDArray> tap) {
        this.outputTap = tap;
    }
}
