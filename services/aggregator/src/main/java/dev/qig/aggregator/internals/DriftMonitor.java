package dev.qig.aggregator.internals;

import dev.qig.aggregator.AggregatorConfig.DriftThresholds;
import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.ChannelShift;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.ScaleSearch;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How far a closed search round's data is from what is in force: per group, the regret of each
 * method's config in force on the round's loss curve, and the shift of the round's channel means
 * against the plan's; and the shift of the vision tokens' channel means at the first layer's input
 * (where a change of the images shows before text tokens and deeper layers dilute it). Pure arithmetic on the round's sums; the round processor keeps the count of
 * rounds over a threshold.
 */
final class DriftMonitor {

    private DriftMonitor() {}

    /** Every reason a drift event can give: what was over its threshold, joined by '+', in this order. */
    static final List<String> REASONS = List.of("regret", "channel-shift", "vision-shift", "regret+channel-shift",
            "regret+vision-shift", "channel-shift+vision-shift", "regret+channel-shift+vision-shift");

    /** The reason of a drift event: the statistics over their thresholds, joined by '+'. */
    static String reason(boolean regret, boolean channelShift, boolean visionShift) {
        List<String> parts = new java.util.ArrayList<>();
        if (regret) {
            parts.add("regret");
        }
        if (channelShift) {
            parts.add("channel-shift");
        }
        if (visionShift) {
            parts.add("vision-shift");
        }
        return String.join("+", parts);
    }

    /**
     * The drift statistics of one round.
     *
     * @param regrets per method with a config in force, per group its regret (NaN where undefined)
     * @param muShifts per group the relative shift of the channel means
     * @param visionShifts per watched site the relative shift of the vision tokens' channel means
     *     (empty when the round or the plan has no vision statistics)
     */
    record Measurement(Map<Method, Map<GroupKey, Double>> regrets, Map<GroupKey, Double> muShifts,
                       Map<GroupKey, Double> visionShifts) {

        /** The method's regret per group, or an empty map when no config of it was in force. */
        Map<GroupKey, Double> regrets(Method method) {
            return regrets.getOrDefault(method, Map.of());
        }

        /** Max over groups of the method's regret; NaN when no config of it was in force. */
        double maxRegret(Method method) {
            return max(regrets(method));
        }

        double maxMuShift() {
            return max(muShifts);
        }

        /** Median over groups of the method's regret; NaN when no config of it was in force. */
        double medianRegret(Method method) {
            return median(regrets(method));
        }

        double medianMuShift() {
            return median(muShifts);
        }

        /*
         * A round counts towards a drift by the median over groups, not the max: measured on the shipped
         * model (rounds of 16-32 samples), the shifts of the down groups (inputs after SwiGLU: sparse,
         * heavy-tailed) vary as much between two clean rounds as between clean and cluttered, so the max
         * is their noise; the median moves only when most groups do (docs/architecture.md, "Drift").
         */
        boolean regretOver(DriftThresholds t) {
            return medianRegret(t.method()) > t.regret();
        }

        boolean muShiftOver(DriftThresholds t) {
            return medianMuShift() > t.muShift();
        }

        /** Max over the watched sites of the vision shift; NaN when not measured. */
        double visionShift() {
            return max(visionShifts);
        }

        /*
         * The vision shift is one site's (the first layer's attention input), so its max is its value.
         * Measured on the shipped model (qig bench --shift, rounds of 32, 8 draws): clean against clean
         * 0.015-0.023, cluttered against cluttered 0.027-0.057, clean against lowlight 0.064-0.074 and
         * against cluttered 0.18-0.22; the median channel shift cannot tell lowlight (0.040-0.047) from
         * clean (0.030-0.059).
         */
        boolean visionShiftOver(DriftThresholds t) {
            return visionShift() > t.visionShift();
        }

        /** Whether a group is over either threshold (what a drift event lists). */
        boolean over(GroupKey key, DriftThresholds t) {
            Double r = regrets(t.method()).get(key);
            return (r != null && r > t.regret()) || muShifts.getOrDefault(key, 0.0) > t.muShift();
        }

        private static double median(Map<GroupKey, Double> values) {
            return ChannelShift.median(values.values());
        }

        private static double max(Map<GroupKey, Double> values) {
            double m = Double.NaN;
            for (double v : values.values()) {
                if (!Double.isNaN(v) && (Double.isNaN(m) || v > m)) {
                    m = v;
                }
            }
            return m;
        }
    }

    /**
     * The round's drift statistics.
     *
     * @param sums the closed round's sums (errors under {@code plan})
     * @param plan the plan the round summed under: its mu built the candidate scales and is what the shift is against
     * @param inForce per method, the config whose alphas are measured (RTN, which has no alpha to regret, is skipped)
     */
    static Measurement measure(CalibrationSums sums, CalibrationPlan plan, CalibrationSettings settings,
                               Map<Method, QuantConfig> inForce) {
        Map<Method, Map<GroupKey, Double>> regrets = new EnumMap<>(Method.class);
        inForce.forEach((method, config) -> {
            if (method == Method.RTN) {
                return;
            }
            Map<GroupKey, Double> perGroup = new TreeMap<>();
            ScaleSearch.lossCurves(method, sums, plan, settings).forEach((key, loss) -> {
                // A group the config does not list is quantized without scales: alpha 0.
                QuantConfig.GroupChoice choice = config.groups().get(key);
                int alpha = choice == null ? 0 : AlphaGrid.indexOf(choice.alpha());
                perGroup.put(key, regret(loss, alpha));
            });
            regrets.put(method, Collections.unmodifiableMap(perGroup));
        });
        Map<GroupKey, Double> shifts = new TreeMap<>();
        plan.mu().forEach((key, mu) -> {
            var statistics = sums.statistics().get(key);
            if (statistics != null) {
                shifts.put(key, muShift(statistics.channelMeans(), mu));
            }
        });
        Map<GroupKey, Double> vision = new TreeMap<>();
        plan.visionMu().forEach((key, mu) -> {
            var statistics = sums.vision().get(key);
            if (statistics != null && statistics.tokens() > 0) {
                vision.put(key, muShift(statistics.channelMeans(), mu));
            }
        });
        return new Measurement(Collections.unmodifiableMap(regrets), Collections.unmodifiableMap(shifts),
                Collections.unmodifiableMap(vision));
    }

    /**
     * L(alpha in force) / min over alpha of L - 1: how much the alpha in force loses against the best
     * alpha of the curve (0 when it is the best). A curve whose minimum is 0 has no relative measure:
     * 0 if the alpha in force reaches it too, else infinity; a curve with NaN gives NaN.
     */
    static double regret(double[] loss, int alphaInForce) {
        double min = loss[ScaleSearch.argmin(loss)];
        double at = loss[alphaInForce];
        if (Double.isNaN(min) || Double.isNaN(at)) {
            return Double.NaN;
        }
        if (min <= 0) {
            return at <= min ? 0.0 : Double.POSITIVE_INFINITY;
        }
        return at / min - 1;
    }

    /** ||mu_round - mu_plan||_2 / ||mu_plan||_2 ({@link ChannelShift#relative}). */
    static double muShift(float[] round, float[] plan) {
        return ChannelShift.relative(round, plan);
    }
}
