package dev.qig.core.engine;

import java.util.EnumMap;
import java.util.Map;

/** Wall time the engine spent per phase, summed over calls: what `qig bench` reports per sample. */
public final class EngineTimings {

    /** The phases of {@link PartialSumsEngine}. */
    public enum Phase {
        /** Teacher-forced full-precision pass capturing group inputs (forward only). */
        FORWARD,
        /** The same pass with MBQ's probes and the backward pass of the answer loss. */
        GRADIENT,
        /** Forward through the model quantized with the distortion config (x_q). */
        DISTORTED,
        /** QIG's integrated gradients. */
        INTEGRATED_GRADIENTS,
        /** Per-alpha candidate errors. */
        GRID
    }

    private final Map<Phase, Long> nanos = new EnumMap<>(Phase.class);
    private long samples;

    void add(Phase phase, long elapsedNanos) {
        nanos.merge(phase, elapsedNanos, Long::sum);
    }

    void addSamples(int n) {
        samples += n;
    }

    public double seconds(Phase phase) {
        return nanos.getOrDefault(phase, 0L) / 1e9;
    }

    public long samples() {
        return samples;
    }

    public double secondsPerSample(Phase phase) {
        return samples == 0 ? Double.NaN : seconds(phase) / samples;
    }

    public void reset() {
        nanos.clear();
        samples = 0;
    }
}
