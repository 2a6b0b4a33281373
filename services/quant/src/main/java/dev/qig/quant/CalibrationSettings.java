package dev.qig.quant;

import java.util.Objects;

/**
 * Settings of the calibration engine, defaulting to the reference code's behaviour
 * (qig-method.md). Every result records the settings that produced it. Built with
 * {@link #builder(QuantScheme)} (or {@link #defaults(QuantScheme)} and the {@code with...} copies).
 *
 * @param scheme the quantization scheme
 * @param behaviour {@link Behaviour#REFERENCE_CODE} (default) or {@link Behaviour#PAPER}: which
 *     integrated-gradients baseline is used
 * @param igSteps interpolation points of integrated gradients (32 in the method; 16 by default)
 * @param igRule where the points lie and how they are weighted ({@link IgRule#ENDPOINTS} in the method;
 *     {@link IgRule#MIDPOINT} by default, closer to the integral at half the points)
 * @param igChunkSteps how many interpolation points go through the module at once (memory knob;
 *     does not change results)
 * @param iqrClip clip token scores at the IQR fences (on by default for both schemes: the paper's
 *     choice; the reference code has it off at W4A8)
 * @param codeFaithfulCounterBug reproduce the reference code's uniform weights for the first five
 *     W3A16 group searches (off by default)
 * @param batchSize samples per forward pass inside the engine (throughput only)
 */
public record CalibrationSettings(
        QuantScheme scheme,
        Behaviour behaviour,
        int igSteps,
        IgRule igRule,
        int igChunkSteps,
        boolean iqrClip,
        boolean codeFaithfulCounterBug,
        int batchSize) {

    /** Where the QIG integrated-gradients path starts. */
    public enum Behaviour {
        /** W3A16: baseline 0, gradients through both branches; W4A8: baseline x_q, quantized branch constant. */
        REFERENCE_CODE,
        /** Baseline always the quantized ("distorted") input x_q. */
        PAPER
    }

    public CalibrationSettings {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(behaviour, "behaviour");
        Objects.requireNonNull(igRule, "igRule");
        if (igSteps < 1 || (igRule == IgRule.ENDPOINTS && igSteps < 2) || igChunkSteps < 1 || batchSize < 1) {
            throw new IllegalArgumentException("invalid calibration settings: igSteps >= 2 (>= 1 for the midpoint rule), "
                    + "igChunkSteps >= 1, batchSize >= 1");
        }
    }

    /**
     * The default settings for a scheme: the reference code's behaviour, IQR clip on, 16 midpoint
     * points for the integrated gradients, 8 samples per pass.
     */
    public static CalibrationSettings defaults(QuantScheme scheme) {
        return builder(scheme).build();
    }

    public static Builder builder(QuantScheme scheme) {
        return new Builder(scheme);
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        return new Builder(scheme).behaviour(behaviour).igSteps(igSteps).igRule(igRule).igChunkSteps(igChunkSteps)
                .iqrClip(iqrClip).codeFaithfulCounterBug(codeFaithfulCounterBug).batchSize(batchSize);
    }

    public CalibrationSettings withIg(int steps, int chunkSteps) {
        return toBuilder().igSteps(steps).igChunkSteps(chunkSteps).build();
    }

    public CalibrationSettings withBatchSize(int size) {
        return toBuilder().batchSize(size).build();
    }

    /** True when the engine needs the distorted input stream x_q (a pass with the model quantized). */
    public boolean needsDistortedStream() {
        return scheme.quantizesActivations() || behaviour == Behaviour.PAPER;
    }

    /** Named setters for {@link CalibrationSettings}; every one starts at its default. */
    public static final class Builder {
        private final QuantScheme scheme;
        private Behaviour behaviour = Behaviour.REFERENCE_CODE;
        // 16 midpoint points: in the worst case of each group kind closer to the integral than the method's
        // 32 points with both ends, for half the work (docs/quantization-engine.md, "Integrated gradients:
        // rule and points"); the method's rule stays a setting.
        private int igSteps = 16;
        private IgRule igRule = IgRule.MIDPOINT;
        private int igChunkSteps = 8;
        private boolean iqrClip = true;
        private boolean codeFaithfulCounterBug;
        private int batchSize = 8;

        private Builder(QuantScheme scheme) {
            this.scheme = scheme;
        }

        public Builder behaviour(Behaviour b) {
            this.behaviour = b;
            return this;
        }

        public Builder igSteps(int steps) {
            this.igSteps = steps;
            return this;
        }

        public Builder igRule(IgRule rule) {
            this.igRule = rule;
            return this;
        }

        public Builder igChunkSteps(int steps) {
            this.igChunkSteps = steps;
            return this;
        }

        public Builder iqrClip(boolean on) {
            this.iqrClip = on;
            return this;
        }

        public Builder codeFaithfulCounterBug(boolean on) {
            this.codeFaithfulCounterBug = on;
            return this;
        }

        public Builder batchSize(int size) {
            this.batchSize = size;
            return this;
        }

        /** The settings; chunking never exceeds the number of points. */
        public CalibrationSettings build() {
            return new CalibrationSettings(scheme, behaviour, igSteps, igRule, Math.min(igChunkSteps, igSteps), iqrClip,
                    codeFaithfulCounterBug, batchSize);
        }
    }
}
