package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
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

    /** Receives the input of a linear on every forward call (before input quantization). */
    @FunctionalInterface
    public interface InputListener {
        void onInput(QuantizableLinear linear, NDArray input);
    }

    private final int inFeatures;
    private final int outFeatures;
    private final Parameter weight;
    private final Parameter bias;

    private InputListener listener;
    private UnaryOperator<NDArray> inputQuantizer;
    private NDArray original;

    public QuantizableLinear(WeightRegistry registry, String prefix, int inFeatures, int outFeatures, boolean withBias) {
        super(registry, prefix);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = param("weight", Init.NORMAL, outFeatures, inFeatures);
        this.bias = withBias ? param("bias", Init.ZEROS, outFeatures) : null;
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
        NDArray w = value(ps, weight, x, training);
        NDArray b = bias == null ? null : value(ps, bias, x, training);
        return Linear.linear(x, w, b);
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
     * Replaces the weight in place by {@code transform(weight)} and keeps the original for
     * {@link #restoreWeight}. Replacing an already replaced weight is refused: transforms would
     * otherwise compound silently (quantizing a quantized weight, scaling twice).
     */
    public void replaceWeight(UnaryOperator<NDArray> transform) {
        if (original != null) {
            throw new IllegalStateException(prefix + ": weight is already replaced; restore it first");
        }
        NDArray w = weight.getArray();
        NDArray saved = w.duplicate();
        try (NDArray replaced = transform.apply(w)) {
            if (!replaced.getShape().equals(w.getShape())) {
                throw new IllegalArgumentException(
                        prefix + ": transform changed the weight shape " + w.getShape() + " -> " + replaced.getShape());
            }
            w.set(new NDIndex("..."), replaced);
        } catch (RuntimeException e) {
            saved.close();
            throw e;
        }
        original = saved;
    }

    /** Puts the original weight back, bit for bit. No-op when the weight was never replaced. */
    public void restoreWeight() {
        if (original == null) {
            return;
        }
        weight.getArray().set(new NDIndex("..."), original);
        original.close();
        original = null;
    }

    public boolean isWeightReplaced() {
        return original != null;
    }
}
