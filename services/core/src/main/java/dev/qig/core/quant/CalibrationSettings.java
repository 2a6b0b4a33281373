package dev.qig.core.quant;

/**
 * Settings of the calibration engine, defaulting to the reference code's behaviour
 * (qig-method.md). Every result records the settings that produced it.
 *
 * @param scheme the quantization scheme
 * @param behaviour {@link Behaviour#REFERENCE_CODE} (default) or {@link Behaviour#PAPER}: which
 *     integrated-gradients baseline is used
 * @param igSteps interpolation points of integrated gradients (32 in the method)
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
        if (igSteps < 2 || igChunkSteps < 1 || batchSize < 1) {
            throw new IllegalArgumentException("invalid calibration settings: igSteps >= 2, igChunkSteps >= 1, batchSize >= 1");
        }
    }

    public static CalibrationSettings defaults(QuantScheme scheme) {
        return new CalibrationSettings(scheme, Behaviour.REFERENCE_CODE, 32, 8, true, false, 8);
    }

    public CalibrationSettings withBehaviour(Behaviour b) {
        return new CalibrationSettings(scheme, b, igSteps, igChunkSteps, iqrClip, codeFaithfulCounterBug, batchSize);
    }

    public CalibrationSettings withIg(int steps, int chunkSteps) {
        return new CalibrationSettings(scheme, behaviour, steps, chunkSteps, iqrClip, codeFaithfulCounterBug, batchSize);
    }

    public CalibrationSettings withBatchSize(int size) {
        return new CalibrationSettings(scheme, behaviour, igSteps, igChunkSteps, iqrClip, codeFaithfulCounterBug, size);
    }

    public CalibrationSettings withIqrClip(boolean on) {
        return new CalibrationSettings(scheme, behaviour, igSteps, igChunkSteps, on, codeFaithfulCounterBug, batchSize);
    }

    public CalibrationSettings withCodeFaithfulCounterBug(boolean on) {
        return new CalibrationSettings(scheme, behaviour, igSteps, igChunkSteps, iqrClip, on, batchSize);
    }

    /** True when the engine needs the distorted input stream x_q (a pass with the model quantized). */
    public boolean needsDistortedStream() {
        return scheme.quantizesActivations() || behaviour == Behaviour.PAPER;
    }
}
