package dev.qig.core.model;

import ai.djl.nn.Parameter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every parameter of a model under its Hugging Face name ({@code model.layers.0.self_attn.q_proj.weight},
 * ...), in construction order. Checkpoint import/export and the seeded initialization go through it.
 */
public final class WeightRegistry {

    private final long seed;
    private final boolean zeros;
    private final Map<String, Parameter> byName = new LinkedHashMap<>();

    public WeightRegistry(long seed) {
        this(seed, false);
    }

    private WeightRegistry(long seed, boolean zeros) {
        this.seed = seed;
        this.zeros = zeros;
    }

    /**
     * A registry whose parameters start at zero: for a model a loader overwrites at once, where
     * drawing a billion seeded normals in Java would cost seconds and a heap copy of every tensor.
     */
    static WeightRegistry forLoading() {
        return new WeightRegistry(0, true);
    }

    boolean startsAtZero() {
        return zeros;
    }

    void register(String name, Parameter parameter) {
        if (byName.putIfAbsent(name, parameter) != null) {
            throw new IllegalStateException("two parameters named " + name);
        }
    }

    /** A seed per parameter: changing one block never changes another block's initial weights. */
    long seedFor(String name) {
        long h = seed * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < name.length(); i++) {
            h = (h ^ name.charAt(i)) * 0x100000001B3L;
        }
        return h;
    }

    public Map<String, Parameter> parameters() {
        return Collections.unmodifiableMap(byName);
    }
}
