package dev.qig.aggregator;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.LayerStats;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * FAKE partial sums for topology tests: a made-up two-layer model (groups of 4, 4 and 8 channels)
 * with random non-integer values, built through the real record mapping. Per-alpha errors have a
 * known minimum per method (AWQ at alpha index {@link #AWQ_BEST}, MBQ at {@link #MBQ_BEST}, QIG at
 * {@link #QIG_BEST}) so that the argmin the aggregator finds can be checked.
 */
final class FakeStats {

    static final String MODEL = "sha256-00000000000000aa";
    static final int AWQ_BEST = 3;
    static final int MBQ_BEST = 6;
    static final int QIG_BEST = 11;
    static final EngineSettings SETTINGS = Records.settingsRecord(CalibrationSettings.defaults(QuantScheme.W3A16),
            Method.scaleSearches());
    static final RoundKey KEY = RoundKey.of(MODEL, QuantScheme.W3A16, SETTINGS);

    private FakeStats() {}

    static Map<GroupKey, Integer> groups() {
        Map<GroupKey, Integer> g = new TreeMap<>();
        for (int layer = 0; layer < 2; layer++) {
            g.put(new GroupKey(layer, EqualizationGroup.QKV), 4);
            g.put(new GroupKey(layer, EqualizationGroup.GATE_UP), 4);
            g.put(new GroupKey(layer, EqualizationGroup.DOWN), 8);
        }
        return g;
    }

    /** One sample's sums: statistics always, errors when {@code search}. */
    static CalibrationSums sums(long seed, boolean search) {
        Random r = new Random(seed);
        Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        groups().forEach((k, channels) -> {
            double[] abs = new double[channels];
            for (int c = 0; c < channels; c++) {
                abs[c] = r.nextDouble() * Math.pow(10, r.nextInt(4));
            }
            statistics.put(k, GroupStatistics.of(abs, 20 + r.nextInt(5), r.nextDouble() * 0.3, 16,
                    0.5 + r.nextDouble(), 3));
            if (search) {
                errors.put(k, GroupErrors.of(bowl(r, AWQ_BEST), bowl(r, MBQ_BEST), bowl(r, MBQ_BEST), bowl(r, QIG_BEST),
                        24, 3, 16, 0.9 + 0.2 * r.nextDouble()));
            }
        });
        return CalibrationSums.ofSample(statistics, errors);
    }

    /**
     * One sample's search sums whose statistics and errors are drawn independently, so that a test
     * can hold one still and move the other: statistics from {@code seed}, with the odd channels'
     * |x| times {@code 1 + oddChannelGrowth}; errors with their minima at {@code awqBest},
     * {@code mbqBest} (answer and vision) and {@code qigBest}.
     */
    static CalibrationSums searchSums(long seed, double oddChannelGrowth, int awqBest, int mbqBest, int qigBest) {
        Random stats = new Random(seed);
        Random err = new Random(seed * 7919 + 1);
        Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        groups().forEach((k, channels) -> {
            double[] abs = new double[channels];
            for (int c = 0; c < channels; c++) {
                abs[c] = stats.nextDouble() * Math.pow(10, stats.nextInt(4)) * (c % 2 == 1 ? 1 + oddChannelGrowth : 1);
            }
            statistics.put(k, GroupStatistics.of(abs, 20 + stats.nextInt(5), stats.nextDouble() * 0.3, 16,
                    0.5 + stats.nextDouble(), 3));
            errors.put(k, GroupErrors.of(bowl(err, awqBest), bowl(err, mbqBest), bowl(err, mbqBest), bowl(err, qigBest),
                    24, 3, 16, 0.9 + 0.2 * err.nextDouble()));
        });
        return CalibrationSums.ofSample(statistics, errors);
    }

    /** The statistics of {@link #searchSums} alone, for a statistics round (plan 0). */
    static CalibrationSums statisticsSums(long seed, double oddChannelGrowth) {
        return new CalibrationSums(searchSums(seed, oddChannelGrowth, AWQ_BEST, MBQ_BEST, QIG_BEST).statistics(), Map.of(), 1);
    }

    /** Errors with one clear minimum at {@code best}, plus noise far smaller than the bowl's slope. */
    private static double[] bowl(Random r, int best) {
        double[] e = new double[AlphaGrid.SIZE];
        for (int a = 0; a < e.length; a++) {
            e[a] = 1.0 + 0.01 * (a - best) * (a - best) + 1e-6 * r.nextDouble();
        }
        return e;
    }

    static LayerStats record(String sampleId, CalibrationSums sums, long planVersion, String domain) {
        return Records.layerStats(sampleId, KEY, SETTINGS, planVersion, sums, domain,
                Instant.parse("2026-11-29T10:00:00Z"), "fake-attributor");
    }

    static LayerStats record(String sampleId, long seed, long planVersion) {
        return Records.layerStats(sampleId, KEY, SETTINGS, planVersion, sums(seed, planVersion > 0), "clean",
                Instant.parse("2026-11-29T10:00:00Z").plusSeconds(seed), "fake-attributor");
    }
}
