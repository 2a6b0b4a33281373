package dev.qig.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.InPlaceWeight;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.quant.EqualizationGroup;
import java.util.List;

/**
 * Where an equalization group sits in a decoder layer: the linears it scales, the previous op
 * divided by s, its inspected module. Kept out of {@link EqualizationGroup}, which the services
 * name in records and configs without the model's blocks.
 */
public final class LayerGroups {

    private LayerGroups() {}

    public static boolean appliesTo(EqualizationGroup group, DecoderLayer layer) {
        if (group != EqualizationGroup.O) {
            return true;
        }
        return layer.attention().v().weight().getShape().equals(layer.attention().o().weight().getShape());
    }

    /** The linears whose weight columns are scaled. */
    public static List<QuantizableLinear> linears(EqualizationGroup group, DecoderLayer layer) {
        switch (group) {
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
    public static List<QuantizableLinear> moduleLinears(EqualizationGroup group, DecoderLayer layer) {
        switch (group) {
            case QKV:
                return layer.attention().linears();
            case GATE_UP:
                return layer.mlp().linears();
            default:
                return linears(group, layer);
        }
    }

    /** The linear whose input is the group's input. */
    public static QuantizableLinear inputOf(EqualizationGroup group, DecoderLayer layer) {
        return linears(group, layer).get(0);
    }

    /** Width of the group's input (the length of s). */
    public static int channels(EqualizationGroup group, DecoderLayer layer) {
        return inputOf(group, layer).inFeatures();
    }

    /** The previous op, divided by s: a norm's scale vector or a linear's output rows. */
    public static InPlaceWeight previousOp(EqualizationGroup group, DecoderLayer layer) {
        switch (group) {
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
    public static InPlaceWeight previousBias(EqualizationGroup group, DecoderLayer layer) {
        return group == EqualizationGroup.O ? layer.attention().v().biasSlot() : null;
    }

    /** Runs the inspected module on the group's input x, with whatever overrides are set. */
    public static NDArray inspect(EqualizationGroup group, DecoderLayer layer, ParameterStore ps, NDArray x) {
        switch (group) {
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
