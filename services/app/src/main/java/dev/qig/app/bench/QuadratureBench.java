package dev.qig.app.bench;

import dev.qig.app.ModelOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.core.engine.EngineTimings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.IgRule;
import dev.qig.quant.Method;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.quant.ScaleSearch;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code qig bench --quadrature}: how the integration rule and the number of points of QIG's
 * integrated gradients change the token weights and the chosen alphas, against a 512-point
 * midpoint reference of the same integral, and what they cost.
 */
final class QuadratureBench {

    private static final int REFERENCE_POINTS = 512;

    private QuadratureBench() {}

    static void run(ModelOption model, QuantScheme scheme, int samples) throws Exception {
        List<VqaSample> calibration = new SyntheticWorld().generate(Domain.CLEAN, samples, 2026);
        EnumSet<Method> qig = EnumSet.of(Method.QIG);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            CalibrationSettings base = CalibrationSettings.defaults(scheme);
            CalibrationPlan plan = new BatchCalibrator(vqa, base, model.id)
                    .calibrate(EnumSet.of(Method.RTN), calibration, manager, (p, n) -> { }).plan();
            System.out.printf(Locale.ROOT, "qig bench --quadrature: %s, %d clean samples, reference: %d-point midpoint rule%n",
                    scheme.id(), samples, REFERENCE_POINTS);
            Run reference = run(vqa, base.toBuilder().igRule(IgRule.MIDPOINT).igSteps(REFERENCE_POINTS).igChunkSteps(32)
                    .build(), calibration, plan, qig, manager, model.id);
            System.out.println();
            System.out.println("| rule | points | max rel. error of a token weight: qkv | gate_up | down | groups with the reference's alpha | IG s |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|");
            for (IgRule rule : IgRule.values()) {
                for (int points : new int[] {8, 16, 32, 64}) {
                    Run r = run(vqa, base.toBuilder().igRule(rule).igSteps(points).igChunkSteps(Math.min(points, 32)).build(),
                            calibration, plan, qig, manager, model.id);
                    Map<EqualizationGroup, Double> error = new EnumMap<>(EqualizationGroup.class);
                    r.lambda.forEach((key, perSample) -> {
                        double e = 0;
                        for (int i = 0; i < perSample.size(); i++) {
                            float[] a = perSample.get(i);
                            float[] ref = reference.lambda.get(key).get(i);
                            for (int t = 0; t < a.length; t++) {
                                e = Math.max(e, Math.abs(a[t] - ref[t]) / ref[t]);
                            }
                        }
                        error.merge(key.group(), e, Math::max);
                    });
                    int same = 0;
                    for (GroupKey key : r.config.groups().keySet()) {
                        same += r.config.groups().get(key).alpha() == reference.config.groups().get(key).alpha() ? 1 : 0;
                    }
                    System.out.printf(Locale.ROOT, "| %s%s | %d | %s | %s | %s | %d of %d | %.1f |%n", rule.id(),
                            rule == IgRule.ENDPOINTS ? " (the method's)" : "", points, pct(error.get(EqualizationGroup.QKV)),
                            pct(error.get(EqualizationGroup.GATE_UP)), pct(error.get(EqualizationGroup.DOWN)), same,
                            r.config.groups().size(), r.seconds);
                }
            }
        }
    }

    /** Token weights per group and sample, the QIG config they lead to, and the IG seconds. */
    private record Run(Map<GroupKey, List<float[]>> lambda, QuantConfig config, double seconds) {}

    private static Run run(VqaModel vqa, CalibrationSettings settings, List<VqaSample> samples, CalibrationPlan plan,
                           EnumSet<Method> methods, NDManager manager, String modelId) {
        PartialSumsEngine engine = new PartialSumsEngine(vqa, settings, modelId);
        List<PartialSumsEngine.SampleResult> results = engine.attribute(samples, plan, methods, manager);
        Map<GroupKey, List<float[]>> lambda = new java.util.TreeMap<>();
        dev.qig.quant.CalibrationSums sums = dev.qig.quant.CalibrationSums.EMPTY;
        for (PartialSumsEngine.SampleResult r : results) {
            r.lambda().forEach((k, l) -> lambda.computeIfAbsent(k, x -> new ArrayList<>()).add(l));
            sums = sums.plus(r.sums());
        }
        QuantConfig config = ScaleSearch.search(Method.QIG, sums, plan, settings, modelId, 1, 1, Map.of());
        return new Run(lambda, config, engine.timings().seconds(EngineTimings.Phase.INTEGRATED_GRADIENTS));
    }

    private static String pct(Double v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }
}
