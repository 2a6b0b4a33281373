package dev.qig.core.engine;

import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.QuantConfig;
import ai.djl.ndarray.NDArray;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.InPlaceWeight;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.model.VisionLanguageModel;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Applies a {@link QuantConfig} to a model in place: per group, the previous op is divided by s and
 * the group's weight columns multiplied by s (exact in full precision); then every decoder linear's
 * weight is fake-quantized with the scheme's quantizer and, for A8 schemes, its input quantized per
 * token. Each parameter is replaced exactly once (scales and quantization composed), so the model
 * can be restored bit-exactly.
 *
 * <p>Applying a config to a model that already carries one is refused (IllegalStateException):
 * quantizing quantized weights would silently compound the error.
 */
public final class QuantConfigApplier {

    private QuantConfigApplier() {}

    /** True while a config is applied to the model (some decoder linear has a replaced weight or an input quantizer). */
    public static boolean carriesQuantization(VisionLanguageModel model) {
        return firstModified(model) != null;
    }

    private static QuantizableLinear firstModified(VisionLanguageModel model) {
        for (QuantizableLinear l : model.decoderLinears()) {
            if (l.isWeightReplaced() || l.hasInputQuantizer()) {
                return l;
            }
        }
        return null;
    }

    public static AppliedQuantization apply(VisionLanguageModel model, QuantConfig config) {
        return apply(model, config, true);
    }

    /**
     * Applies a config; with {@code quantize = false} only the scales are folded (an exact identity
     * in full precision: what the equivalence checks use).
     */
    public static AppliedQuantization apply(VisionLanguageModel model, QuantConfig config, boolean quantize) {
        QuantizedWeights weights = null;
        if (quantize && config.weights() != null) {
            try {
                weights = QuantizedWeights.read(java.nio.file.Path.of(config.weights().location()), config.weights().sha256());
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("config " + config.id() + ": cannot read its quantized weights: "
                        + e.getMessage(), e);
            }
        }
        return apply(model, config, quantize, weights);
    }

    /**
     * Applies a config whose quantized weights the caller already holds (null for a config without):
     * a linear named in {@code weights} takes its dequantized codes, every other decoder linear is
     * rounded to nearest.
     */
    public static AppliedQuantization apply(VisionLanguageModel model, QuantConfig config, boolean quantize,
                                            QuantizedWeights weights) {
        GradientRecording.offInThisThread(); // weights are replaced in place below
        QuantizableLinear modified = firstModified(model);
        if (modified != null) {
            throw new IllegalStateException("the model already carries a quantization config ("
                    + modified.name() + " is modified); close the applied one first");
        }
        Map<InPlaceWeight, List<UnaryOperator<NDArray>>> edits = new IdentityHashMap<>();
        List<InPlaceWeight> order = new ArrayList<>();
        for (Map.Entry<GroupKey, QuantConfig.GroupChoice> e : config.groups().entrySet()) {
            GroupKey key = e.getKey();
            if (key.layer() < 0 || key.layer() >= model.layers().size()) {
                throw new IllegalArgumentException("config " + config.id() + " names layer " + key.layer()
                        + " but the model has " + model.layers().size());
            }
            DecoderLayer layer = model.layers().get(key.layer());
            EqualizationGroup group = key.group();
            if (!LayerGroups.appliesTo(group, layer)) {
                throw new IllegalArgumentException("config " + config.id() + " scales " + key + ", which this model does not have");
            }
            float[] s = e.getValue().scales();
            if (s.length != LayerGroups.channels(group, layer)) {
                throw new IllegalArgumentException(key + ": " + s.length + " scales for " + LayerGroups.channels(group, layer) + " channels");
            }
            // Previous op: a norm's vector or a linear's output rows (and its bias) divided by s.
            UnaryOperator<NDArray> divide = w -> w.getShape().dimension() == 1
                    ? w.div(w.getManager().create(s))
                    : w.div(w.getManager().create(s).expandDims(1));
            add(edits, order, LayerGroups.previousOp(group, layer), divide);
            if (LayerGroups.previousBias(group, layer) != null) {
                add(edits, order, LayerGroups.previousBias(group, layer), divide);
            }
            for (QuantizableLinear l : LayerGroups.linears(group, layer)) {
                add(edits, order, l.weightSlot(), w -> w.mul(w.getManager().create(s)));
            }
        }
        GroupQuantizer quantizer = GroupQuantizer.of(config.scheme());
        List<QuantizableLinear> linears = model.decoderLinears();
        if (quantize) {
            for (QuantizableLinear l : linears) {
                QuantizedWeights.Linear stored = weights == null ? null : weights.linears().get(l.name());
                if (stored == null) {
                    add(edits, order, l.weightSlot(), quantizer);
                } else if (stored.rows() != l.outFeatures() || stored.columns() != l.inFeatures()) {
                    throw new IllegalArgumentException("config " + config.id() + ": quantized weight of " + l.name() + " is "
                            + stored.rows() + " x " + stored.columns() + ", the model's " + l.outFeatures() + " x "
                            + l.inFeatures());
                } else {
                    float[] values = stored.dequantized();
                    add(edits, order, l.weightSlot(), w -> w.getManager().create(values, w.getShape()).toType(w.getDataType(), false));
                }
            }
        }
        List<InPlaceWeight> done = new ArrayList<>();
        try {
            for (InPlaceWeight slot : order) {
                List<UnaryOperator<NDArray>> chain = edits.get(slot);
                slot.replace(w -> {
                    NDArray v = w;
                    for (UnaryOperator<NDArray> f : chain) {
                        v = f.apply(v);
                    }
                    return v == w ? w.duplicate() : v;
                });
                done.add(slot);
            }
            if (quantize && config.scheme().staticActivations()) {
                setStaticInputQuantizers(model, config);
            } else {
                ActivationQuantizer act = ActivationQuantizer.of(config.scheme());
                if (act != null && quantize) {
                    linears.forEach(l -> l.setInputQuantizer(act));
                }
            }
        } catch (RuntimeException e) {
            done.forEach(InPlaceWeight::restore);
            linears.forEach(l -> l.setInputQuantizer(null));
            throw e;
        }
        return new AppliedQuantization(config, done, linears);
    }

    /** Every input site's linears quantize their input with the site's calibrated per-tensor scale. */
    private static void setStaticInputQuantizers(VisionLanguageModel model, QuantConfig config) {
        for (DecoderLayer layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                GroupKey site = new GroupKey(layer.index(), g);
                Float scale = config.inputScales().get(site);
                if (scale == null) {
                    throw new IllegalArgumentException("config " + config.id() + " of static scheme " + config.scheme().id()
                            + " has no input scale for " + site + " (a static scheme's configs come from calibrated ranges)");
                }
                StaticActivationQuantizer q = new StaticActivationQuantizer(config.scheme().activationBits(), scale);
                LayerGroups.linears(g, layer).forEach(l -> l.setInputQuantizer(q));
            }
        }
    }

    private static void add(Map<InPlaceWeight, List<UnaryOperator<NDArray>>> edits, List<InPlaceWeight> order,
                            InPlaceWeight slot, UnaryOperator<NDArray> f) {
        edits.computeIfAbsent(slot, k -> {
            order.add(k);
            return new ArrayList<>();
        }).add(f);
    }
}
