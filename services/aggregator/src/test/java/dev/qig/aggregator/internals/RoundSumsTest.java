package dev.qig.aggregator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.InputRange;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.LayerStats;
import java.time.Instant;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** A round's running sums, added in place from records, equal the sums CalibrationSums.plus gives, bit for bit. */
class RoundSumsTest {

    private static final EngineSettings SETTINGS = Records.settingsRecord(CalibrationSettings.defaults(QuantScheme.W8A8_STATIC),
            Method.scaleSearches());
    private static final RoundKey KEY = RoundKey.of("m", QuantScheme.W8A8_STATIC, SETTINGS);

    private static double value(SplittableRandom r) {
        return Math.scalb(r.nextDouble(), r.nextInt(-45, 30));
    }

    private static double[] values(SplittableRandom r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = value(r);
        }
        return v;
    }

    /** One sample's sums: two layers of every group, errors, input ranges and vision statistics at layer 0's qkv. */
    private static CalibrationSums sample(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<GroupKey, GroupStatistics> statistics = new TreeMap<>();
        Map<GroupKey, GroupErrors> errors = new TreeMap<>();
        Map<GroupKey, InputRange> ranges = new TreeMap<>();
        for (int layer = 0; layer < 2; layer++) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                GroupKey k = new GroupKey(layer, g);
                int channels = 8 + 4 * g.ordinal();
                statistics.put(k, GroupStatistics.of(values(r, channels), r.nextInt(1, 100), value(r), r.nextInt(10),
                        value(r), r.nextInt(10)));
                errors.put(k, GroupErrors.of(values(r, AlphaGrid.SIZE), values(r, AlphaGrid.SIZE), values(r, AlphaGrid.SIZE),
                        values(r, AlphaGrid.SIZE), r.nextInt(100), r.nextInt(50), r.nextInt(50), value(r)));
                float[] m = new float[channels];
                for (int c = 0; c < channels; c++) {
                    m[c] = c == 0 && seed % 2 == 0 ? -0.0f : (float) value(r);
                }
                ranges.put(k, InputRange.of(m));
            }
        }
        GroupKey qkv = new GroupKey(0, EqualizationGroup.QKV);
        Map<GroupKey, GroupStatistics> vision = seed == 2 ? Map.of() // a sample without vision tokens
                : Map.of(qkv, GroupStatistics.of(values(r, statistics.get(qkv).channels()), 1, 0, 0, 0, 0));
        return CalibrationSums.ofSample(statistics, errors, ranges, vision);
    }

    private static LayerStats record(CalibrationSums sums) {
        return Records.layerStats("s", KEY, SETTINGS, 1, sums, "clean", Instant.EPOCH, "test");
    }

    @Test
    void addingRecordsInPlaceGivesThePlusOfTheirSums() {
        CalibrationSums expected = Records.sums(record(sample(1)));
        RoundSums round = new RoundSums(2, 1);
        assertFalse(round.addIfFits(record(sample(1)), true, true), "the round's first sample takes the checked path");
        round.add(Records.sums(record(sample(1))));
        for (long seed = 2; seed <= 12; seed++) {
            LayerStats r = record(sample(seed));
            expected = expected.plus(Records.sums(r));
            assertTrue(round.addIfFits(r, true, true), "sample " + seed);
        }
        assertEquals(expected, round.toSums());
        assertEquals(expected.samples(), round.samples());
        // Read back from a store and going on gives the same too.
        RoundSums restored = RoundSums.of(2, 1, round.toSums());
        LayerStats r = record(sample(13));
        assertTrue(restored.addIfFits(r, true, true));
        assertEquals(expected.plus(Records.sums(r)), restored.toSums());
    }

    @Test
    void aRecordThatDoesNotFitTheRoundChangesNothing() {
        RoundSums round = new RoundSums(2, 1);
        round.add(Records.sums(record(sample(1))));
        CalibrationSums before = round.toSums();
        Map<String, Consumer<LayerStats>> breakages = new TreeMap<>();
        breakages.put("a NaN error", r -> r.getErrors().get(3).getEQig().set(5, Double.NaN));
        breakages.put("an infinite channel sum", r -> r.getStatistics().get(2).getAbsSum().set(0, Double.POSITIVE_INFINITY));
        breakages.put("a NaN vision sum", r -> r.getVision().get(0).getAbsSum().set(1, Double.NaN));
        breakages.put("a negative range", r -> r.getRanges().get(1).getChannelAbsMax().set(0, -1f));
        breakages.put("a group missing", r -> r.getStatistics().remove(4));
        breakages.put("a group twice", r -> r.getStatistics().set(4, r.getStatistics().get(5)));
        breakages.put("an unknown group", r -> r.getStatistics().get(0).setGroup("nope"));
        breakages.put("a channel more", r -> r.getStatistics().get(0).getAbsSum().add(1.0));
        breakages.put("an alpha less", r -> r.getErrors().get(0).getEAll().remove(0));
        breakages.put("no errors", r -> r.getErrors().clear());
        breakages.put("no ranges", r -> r.getRanges().clear());
        breakages.put("vision tokens beyond the group's", r -> r.getVision().get(0).setTokens(1_000_000));
        breakages.put("vision of a group without statistics", r -> r.getVision().get(0).setLayer(7));
        breakages.forEach((what, breakage) -> {
            LayerStats r = record(sample(3));
            breakage.accept(r);
            assertFalse(round.addIfFits(r, true, true), what);
            assertEquals(before, round.toSums(), what + ": nothing added");
        });
        assertFalse(round.addIfFits(record(sample(3)), false, true), "a search record in a statistics round");
        assertFalse(round.addIfFits(record(sample(3)), true, false), "ranges for a scheme that is not static");
        assertEquals(before, round.toSums());
    }
}
