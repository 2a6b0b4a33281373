package dev.qig.quant;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the attributors need to compute a round's partial sums: the channel means mu of every group
 * (from which the candidate scales of every alpha follow) and, for schemes that quantize
 * activations, the config whose quantized model produces the distorted input stream x_q. Version 0
 * is the empty plan: statistics only, no error sums.
 *
 * @param version plan version (0 = empty)
 * @param mu channel means per group
 * @param gradientRatios MBQ's r per group of the round that produced the plan (informational)
 * @param distortion config applied to build x_q; null means plain RTN of the scheme
 * @param visionMu channel means of the vision tokens at the drift check's sites, of the round that
 *     produced the plan (what later rounds' vision shift is measured against; empty when unknown)
 */
public record CalibrationPlan(
        long version,
        Map<GroupKey, float[]> mu,
        Map<GroupKey, Double> gradientRatios,
        QuantConfig distortion,
        Map<GroupKey, float[]> visionMu) {

    public CalibrationPlan {
        mu = Collections.unmodifiableMap(new TreeMap<>(mu));
        gradientRatios = Collections.unmodifiableMap(new TreeMap<>(gradientRatios));
        visionMu = Collections.unmodifiableMap(new TreeMap<>(visionMu));
    }

    public CalibrationPlan(long version, Map<GroupKey, float[]> mu, Map<GroupKey, Double> gradientRatios,
                           QuantConfig distortion) {
        this(version, mu, gradientRatios, distortion, Map.of());
    }

    public static CalibrationPlan empty() {
        return new CalibrationPlan(0, Map.of(), Map.of(), null);
    }

    public boolean searches(GroupKey key) {
        return mu.containsKey(key);
    }

    /** The plan that a round's summed statistics imply: their mu and r. */
    public static CalibrationPlan from(long version, Map<GroupKey, GroupStatistics> statistics, QuantConfig distortion) {
        Map<GroupKey, float[]> mu = new TreeMap<>();
        Map<GroupKey, Double> r = new TreeMap<>();
        statistics.forEach((k, p) -> {
            mu.put(k, p.channelMeans());
            r.put(k, p.gradientRatio());
        });
        return new CalibrationPlan(version, mu, r, distortion);
    }

    /** The plan a round's sums imply: their mu and r, and the channel means of their vision tokens. */
    public static CalibrationPlan from(long version, CalibrationSums sums, QuantConfig distortion) {
        CalibrationPlan p = from(version, sums.statistics(), distortion);
        Map<GroupKey, float[]> vision = new TreeMap<>();
        sums.vision().forEach((k, v) -> {
            if (v.tokens() > 0) {
                vision.put(k, v.channelMeans());
            }
        });
        return new CalibrationPlan(version, p.mu(), p.gradientRatios(), distortion, vision);
    }
}
