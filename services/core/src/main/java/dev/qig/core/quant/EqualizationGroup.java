package dev.qig.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.util.EnumIds;
import dev.qig.core.model.InPlaceWeight;
import dev.qig.core.model.QuantizableLinear;
import java.util.List;
import java.util.Locale;

/**
 * The channel-wise equalization groups of a decoder layer (qig-method.md section 2): linears that
 * read the same input share one per-input-channel scale s; the previous op is divided by s, the
 * linears' weight columns are multiplied by s, and the search compares the output of the
 * "inspected module".
 */
public enum EqualizationGroup {
    /** q, k, v after the input norm; inspected: the whole attention block. */
    QKV(Side.ATTENTION),
    /** o after v; inspected: o alone. Only when v and o have the same shape (never under GQA). */
    O(Side.ATTENTION),
    /** gate, up after the post-attention norm; inspected: the whole MLP. */
    GATE_UP(Side.MLP),
    /** down after up; inspected: down alone. */
    DOWN(Side.MLP);

    /** Which output MBQ's gradient ratio r is measured at: o (attention) or down (MLP). */
    public enum Side { ATTENTION, MLP }

    private final Side side;

    EqualizationGroup(Side side) {
        this.side = side;
    }

    public Side side() {
        return side;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static EqualizationGroup parse(String s) {
        return EnumIds.parse(EqualizationGroup.class, "equalization group", s);
    }

    public boolean appliesTo(DecoderLayer layer) {
        if (this != O) {
            return true;
        }
        return layer.attention().v().weight().getShape().equals(layer.attention().o().weight().getShape());
    }

    /** The linears whose weight columns are scaled. */
    public List<QuantizableLinear> linears(DecoderLayer layer) {
        switch (this) {
            case QKV:
                return layer.attention().linears().subList(0, 3);
            case O:
                return List.of(layer.attention().o());
            case GATE_UP:
                return List.of(layer.mlp().gate(), layer.mlp().up());
            default:
                return List.of(layer.mlp().down());
        }
    }

    /** Every linear inside the inspected module (all of them are quantized in QIG's target). */
    public List<QuantizableLinear> moduleLinears(DecoderLayer layer) {
        switch (this) {
            case QKV:
                return layer.attention().linears();
            case GATE_UP:
                return layer.mlp().linears();
            default:
                return linears(layer);
        }
    }

    /** The linear whose input is the group's input. */
    public QuantizableLinear inputOf(DecoderLayer layer) {
        return linears(layer).get(0);
    }

    /** Width of the group's input (the length of s). */
    public int channels(DecoderLayer layer) {
        return inputOf(layer).inFeatures();
    }

    /** The previous op, divided by s: a norm's scale vector or a linear's output rows. */
    public InPlaceWeight previousOp(DecoderLayer layer) {
        switch (this) {
            case QKV:
                return layer.inputNorm().weightSlot();
            case O:
                return layer.attention().v().weightSlot();
            case GATE_UP:
                return layer.postAttentionNorm().weightSlot();
            default:
                return layer.mlp().up().weightSlot();
        }
    }

    /** The bias of the previous op when it is a linear with one (v under O), else null. */
    public InPlaceWeight previousBias(DecoderLayer layer) {
        return this == O ? layer.attention().v().biasSlot() : null;
    }

    /** Runs the inspected module on the group's input x, with whatever overrides are set. */
    public NDArray inspect(DecoderLayer layer, ParameterStore ps, NDArray x) {
        switch (this) {
            case QKV:
                return layer.attention().forward1(ps, x, false);
            case O:
                return layer.attention().o().forward1(ps, x, false);
            case GATE_UP:
                return layer.mlp().forward1(ps, x, false);
            default:
                return layer.mlp().down().forward1(ps, x, false);
        }
    }
}
