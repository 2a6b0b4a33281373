package dev.qig.quant;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The argmin over alpha of each method's loss, from {@link CalibrationSums}: AWQ from
 * E_all, MBQ from E_answer + r E_vision (r floored at its median over layers), QIG from E_qig. The
 * first strict minimum wins, so alpha = 0 (RTN) is kept unless something is strictly better.
 */
public final class ScaleSearch {

    private ScaleSearch() {}

    /** MBQ's r per group: the side's gradient ratio, floored at the median of that side over layers. */
    public static Map<GroupKey, Double> flooredRatios(Map<GroupKey, GroupStatistics> statistics) {
        Map<EqualizationGroup.Side, List<Double>> bySide = new EnumMap<>(EqualizationGroup.Side.class);
        Map<GroupKey, Double> raw = new TreeMap<>();
        for (Map.Entry<GroupKey, GroupStatistics> e : statistics.entrySet()) {
            double r = e.getValue().gradientRatio();
            raw.put(e.getKey(), r);
            // One value per layer and side: QKV and O (or GATE_UP and DOWN) share the same probe.
            if (e.getKey().group() == EqualizationGroup.QKV || e.getKey().group() == EqualizationGroup.GATE_UP) {
                if (!Double.isNaN(r)) {
                    bySide.computeIfAbsent(e.getKey().group().side(), s -> new ArrayList<>()).add(r);
                }
            }
        }
        Map<GroupKey, Double> floored = new TreeMap<>();
        raw.forEach((k, r) -> {
            double median = median(bySide.getOrDefault(k.group().side(), List.of()));
            double v = Double.isNaN(r) ? median : Math.max(r, median);
            floored.put(k, Double.isNaN(v) ? 1.0 : v);
        });
        return floored;
    }

    /** The method's loss per alpha for one group. */
    public static double[] losses(Method method, GroupErrors p, double r, boolean uniformVisionAnswer) {
        double[] loss = new double[AlphaGrid.SIZE];
        for (int a = 0; a < loss.length; a++) {
            switch (method) {
                case RTN:
                case AWQ:
                    loss[a] = p.lossUniform(a);
                    break;
                case MBQ:
                    loss[a] = p.lossModality(a, r);
                    break;
                default:
                    loss[a] = uniformVisionAnswer ? p.lossModality(a, 1.0) : p.lossQig(a);
            }
        }
        return loss;
    }

    /** Index of the first strict minimum. */
    public static int argmin(double[] loss) {
        int best = 0;
        for (int a = 1; a < loss.length; a++) {
            if (loss[a] < loss[best]) {
                best = a;
            }
        }
        return best;
    }

    /**
     * The config a method chooses from a round's sums (mu from {@code plan}, which produced the
     * error sums). RTN gets no scales.
     */
    public static QuantConfig search(Method method, CalibrationSums sums, CalibrationPlan plan,
                                     CalibrationSettings settings, String model, long version, long round,
                                     Map<String, String> provenance) {
        Map<String, String> prov = new TreeMap<>(provenance);
        prov.put("behaviour", settings.behaviour().name().toLowerCase(java.util.Locale.ROOT));
        prov.put("iqrClip", Boolean.toString(settings.iqrClip()));
        prov.put("igSteps", Integer.toString(settings.igSteps()));
        prov.put("igRule", settings.igRule().id());
        prov.put("codeFaithfulCounterBug", Boolean.toString(settings.codeFaithfulCounterBug()));
        prov.put("planVersion", Long.toString(plan.version()));
        Map<GroupKey, QuantConfig.GroupChoice> groups = new TreeMap<>();
        if (method != Method.RTN) {
            lossCurves(method, sums, plan, settings).forEach((key, loss) -> {
                int best = argmin(loss);
                groups.put(key, new QuantConfig.GroupChoice(AlphaGrid.alpha(best),
                        AlphaGrid.scales(plan.mu().get(key), AlphaGrid.alpha(best)), loss[best], loss[0]));
            });
        }
        QuantConfig config = new QuantConfig(model, settings.scheme(), method, version, round,
                Collections.unmodifiableMap(groups), prov);
        return settings.scheme().staticActivations() ? config.withInputScales(inputScales(sums, groups, settings.scheme()))
                : config;
    }

    /**
     * The static per-tensor activation scale of every input site: the largest |x| of the site's
     * input over the round's samples once the chosen scales are folded ({@code max_c absMax_c / s_c}),
     * over the grid's largest code.
     *
     * @throws IllegalStateException when the sums carry no ranges (they were not computed for a static scheme)
     */
    public static Map<GroupKey, Float> inputScales(CalibrationSums sums, Map<GroupKey, QuantConfig.GroupChoice> groups,
                                                   QuantScheme scheme) {
        if (sums.ranges().isEmpty()) {
            throw new IllegalStateException("the sums carry no input ranges; static scheme " + scheme.id()
                    + " needs them (computed by the engine for static schemes only)");
        }
        Map<GroupKey, Float> scales = new TreeMap<>();
        sums.ranges().forEach((site, range) -> {
            QuantConfig.GroupChoice g = groups.get(site);
            scales.put(site, InputRange.scaleFor(range.scaledAbsMax(g == null ? null : g.scales()),
                    scheme.activationBits()));
        });
        return scales;
    }

    /**
     * The method's loss per alpha for every group the plan searches, in group order: what
     * {@link #search} takes the argmin of, and what the drift check measures a config in force on.
     */
    public static Map<GroupKey, double[]> lossCurves(Method method, CalibrationSums sums, CalibrationPlan plan,
                                                     CalibrationSettings settings) {
        Map<GroupKey, Double> r = flooredRatios(sums.statistics());
        Map<GroupKey, double[]> curves = new TreeMap<>();
        int searchIndex = 0;
        for (Map.Entry<GroupKey, GroupErrors> e : sums.errors().entrySet()) {
            GroupKey key = e.getKey();
            if (!plan.searches(key)) {
                continue;
            }
            boolean counterBug = settings.codeFaithfulCounterBug() && method == Method.QIG
                    && settings.scheme() == QuantScheme.W3A16 && searchIndex < 5;
            curves.put(key, losses(method, e.getValue(), r.get(key), counterBug));
            searchIndex++;
        }
        return curves;
    }

    private static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
