package dev.qig.app.bench;

import dev.qig.app.ModelOption;
import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.ChannelShift;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code qig bench --shift}: how far the channel means of a round move between rounds of one
 * domain (sampling noise) and between domains (drift), per group and for the median and max group,
 * and how far the vision tokens' channel means at the first layer's input move (the vision shift).
 * What the aggregator's drift thresholds on the channel shift and the vision shift are chosen from.
 */
final class ShiftBench {

    private static final int DRAWS = 8;

    private ShiftBench() {}

    static void run(ModelOption model, QuantScheme scheme, int samples) throws Exception {
        SyntheticWorld world = new SyntheticWorld();
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = model.load(manager);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, CalibrationSettings.defaults(scheme), model.id);
            System.out.printf(Locale.ROOT, "qig bench --shift: %s, %s, rounds of %d samples, %d draws per domain "
                    + "(seeds 1000..%d); shift = ||mu_b - mu_a|| / ||mu_a|| per group; vision shift: the same of the vision "
                    + "tokens' means at layer0.qkv's input%n", model.location, scheme.id(), samples,
                    DRAWS, 1000 + DRAWS - 1);
            Map<Domain, List<CalibrationPlan>> rounds = new TreeMap<>();
            for (Domain d : Domain.values()) {
                List<CalibrationPlan> draws = new ArrayList<>();
                for (int s = 0; s < DRAWS; s++) {
                    CalibrationSums sums = CalibrationSums.EMPTY;
                    for (var r : engine.attribute(world.generate(d, samples, 1000 + s), CalibrationPlan.empty(),
                            EnumSet.of(Method.AWQ), manager)) {
                        sums = sums.plus(r.sums());
                    }
                    draws.add(CalibrationPlan.from(1, sums, null));
                }
                rounds.put(d, draws);
                System.out.printf(Locale.ROOT, "statistics of %s: %d rounds%n", d.id(), DRAWS);
            }
            Domain reference = Domain.CLEAN;
            CalibrationPlan plan = rounds.get(reference).get(0);
            StringBuilder table = new StringBuilder("\n| plan (round 1 of) | round of | draw | median group | max group | "
                    + "median without down | max group's name | vision shift |\n|---|---|---:|---:|---:|---:|---|---:|\n");
            for (Domain a : List.of(reference, Domain.CLUTTERED)) {
                CalibrationPlan base = rounds.get(a).get(0);
                for (Domain b : Domain.values()) {
                    List<CalibrationPlan> others = rounds.get(b);
                    for (int s = a == b ? 1 : 0; s < others.size(); s++) {
                        Map<GroupKey, Double> shifts = new TreeMap<>();
                        CalibrationPlan other = others.get(s);
                        base.mu().forEach((k, mu) -> shifts.put(k, ChannelShift.relative(other.mu().get(k), mu)));
                        double vision = base.visionMu().entrySet().stream().mapToDouble(e ->
                                ChannelShift.relative(other.visionMu().get(e.getKey()), e.getValue())).max().orElse(Double.NaN);
                        table.append(row(a, b, s, shifts, vision));
                    }
                }
            }
            System.out.println(table);
            System.out.println("per group, clean round 1 against clean round 2 and cluttered round 1:");
            plan.mu().forEach((k, mu) -> System.out.printf(Locale.ROOT, "  %-14s clean %.3f, cluttered %.3f%n", k,
                    ChannelShift.relative(rounds.get(reference).get(1).mu().get(k), mu),
                    ChannelShift.relative(rounds.get(Domain.CLUTTERED).get(0).mu().get(k), mu)));
        }
    }

    private static String row(Domain a, Domain b, int draw, Map<GroupKey, Double> shifts, double vision) {
        Map.Entry<GroupKey, Double> max = shifts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        List<Double> withoutDown = shifts.entrySet().stream()
                .filter(e -> e.getKey().group() != dev.qig.quant.EqualizationGroup.DOWN).map(Map.Entry::getValue).toList();
        return String.format(Locale.ROOT, "| %s | %s | %d | %.3f | %.3f | %.3f | %s | %.3f |%n", a.id(), b.id(), draw + 1,
                ChannelShift.median(shifts.values()), max.getValue(), ChannelShift.median(withoutDown), max.getKey(), vision);
    }
}
