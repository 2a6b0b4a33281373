package dev.qig.kafka.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupErrors;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Engine objects survive the trip through their topic records unchanged. */
class RecordsTest {

    private static final GroupKey KEY = new GroupKey(1, EqualizationGroup.GATE_UP);

    private static CalibrationSums sample(boolean search) {
        Random r = new Random(3);
        double[] e = new double[AlphaGrid.SIZE];
        for (int a = 0; a < e.length; a++) {
            e[a] = r.nextDouble() / 7;
        }
        GroupStatistics s = GroupStatistics.of(new double[] {0.1, 2.5e-7, 3e5}, 17, 0.3, 16, 1.7, 2);
        return CalibrationSums.ofSample(Map.of(KEY, s),
                search ? Map.of(KEY, GroupErrors.of(e, e.clone(), e.clone(), e.clone(), 17, 2, 16, 0.93)) : Map.of());
    }

    @Test
    void theDomainsOfAConfigsRoundAreReadFromItsProvenance() {
        assertEquals(List.of("clean", "cluttered"), Records.provenanceDomains(Map.of("domains", "clean=3,cluttered=29")));
        assertEquals(List.of("cluttered"), Records.provenanceDomains(Map.of("domains", "clean=0,cluttered=29")), "no samples, not served");
        assertEquals(List.of(), Records.provenanceDomains(Map.of()));
        assertEquals(List.of("night"), Records.provenanceDomains(Map.of("domains", "night=2,broken,x=y")), "malformed parts skipped");
    }

    @Test
    void aSamplesSumsSurviveTheirRecordExactly() {
        CalibrationSettings settings = CalibrationSettings.defaults(QuantScheme.W4A8);
        EngineSettings er = Records.settingsRecord(settings, EnumSet.of(Method.QIG, Method.AWQ));
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", settings, EnumSet.of(Method.AWQ, Method.QIG));
        for (boolean search : new boolean[] {false, true}) {
            CalibrationSums sums = sample(search);
            LayerStats record = Records.layerStats("s1", key, er, search ? 3 : 0, sums, "clean", Instant.EPOCH, "a");
            assertEquals(search ? PartialsKind.SEARCH : PartialsKind.STATISTICS, record.getKind());
            assertEquals(sums, Records.sums(record));
            CalibrationSums ranged = sums.plus(new CalibrationSums(Map.of(), Map.of(), Map.of(
                    KEY, dev.qig.quant.InputRange.of(new float[] {0.5f, 3.25f, 0f})), 0));
            assertEquals(ranged, Records.sums(Records.layerStats("s1", key, er, search ? 3 : 0, ranged, "clean", Instant.EPOCH, "a")),
                    "input ranges travel with the sums");
            CalibrationSums seen = sums.plus(new CalibrationSums(Map.of(), Map.of(), Map.of(), Map.of(
                    KEY, GroupStatistics.of(new double[] {0.25, 1.5, 0.125}, 9, 0, 0, 0, 0)), 0));
            assertEquals(seen, Records.sums(Records.layerStats("s1", key, er, search ? 3 : 0, seen, "clean", Instant.EPOCH, "a")),
                    "and so do the vision-token statistics");
        }
        assertEquals("sha256-0123456789abcdef/w4a8/reference_code-ig16mid-iqr-awq+qig", key.toString());
        assertEquals(key, RoundKey.parse(key.toString()));
        assertEquals(List.of("awq", "qig"), er.getMethods(), "methods in a fixed order");
        assertEquals(settings.igSteps(), Records.settings(er, QuantScheme.W4A8).igSteps());
    }

    /**
     * A sample of a Qwen2-0.5B-sized decoder (24 layers; q/k/v and gate/up read 896 channels, down 4864;
     * o skipped under GQA) is cut between layers into records within the limit, which together give
     * back its sums exactly; a small model's sample stays one record.
     */
    @Test
    void aLargeSampleIsCutBetweenLayersIntoRecordsWithinTheLimit() throws Exception {
        CalibrationSettings settings = CalibrationSettings.defaults(QuantScheme.W3A16);
        EngineSettings er = Records.settingsRecord(settings, Method.scaleSearches());
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", settings, Method.scaleSearches());
        Random r = new Random(7);
        Map<GroupKey, GroupStatistics> statistics = new java.util.TreeMap<>();
        Map<GroupKey, GroupErrors> errors = new java.util.TreeMap<>();
        for (int layer = 0; layer < 24; layer++) {
            for (EqualizationGroup g : List.of(EqualizationGroup.QKV, EqualizationGroup.GATE_UP, EqualizationGroup.DOWN)) {
                double[] abs = r.doubles(g == EqualizationGroup.DOWN ? 4864 : 896).toArray();
                statistics.put(new GroupKey(layer, g), GroupStatistics.of(abs, 745, 0.1, 729, 0.2, 3));
                double[] e = r.doubles(AlphaGrid.SIZE).toArray();
                errors.put(new GroupKey(layer, g), GroupErrors.of(e, e, e, e, 745, 3, 729, 1.0));
            }
        }
        GroupKey watched = new GroupKey(0, EqualizationGroup.QKV);
        Map<GroupKey, GroupStatistics> vision = Map.of(watched, GroupStatistics.of(r.doubles(896).toArray(), 729, 0, 0, 0, 0));
        CalibrationSums sums = CalibrationSums.ofSample(statistics, errors, Map.of(), vision);
        List<LayerStats> parts = Records.layerStatsParts("s1", key, er, 2, sums, "clean", Instant.EPOCH, "a",
                Records.DEFAULT_STATS_RECORD_BYTES);
        assertTrue(parts.size() > 1, "1.4 MB of sums in more than one record");
        CalibrationSums back = CalibrationSums.EMPTY;
        java.util.Set<GroupKey> seen = new java.util.HashSet<>();
        for (int i = 0; i < parts.size(); i++) {
            LayerStats p = parts.get(i);
            assertEquals(i, p.getPart());
            assertEquals(parts.size(), p.getParts());
            assertEquals(PartialsKind.SEARCH, p.getKind());
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            org.apache.avro.io.BinaryEncoder enc = org.apache.avro.io.EncoderFactory.get().directBinaryEncoder(out, null);
            new org.apache.avro.specific.SpecificDatumWriter<LayerStats>(LayerStats.class).write(p, enc);
            assertTrue(out.size() <= Records.DEFAULT_STATS_RECORD_BYTES, "part " + i + ": " + out.size() + " bytes");
            CalibrationSums part = Records.sums(p);
            part.statistics().keySet().forEach(k -> assertTrue(seen.add(k), k + " in one part only"));
            assertEquals(i == 0, !part.vision().isEmpty(), "the vision statistics in the part with layer 0");
            back = new CalibrationSums(merge(back.statistics(), part.statistics()), merge(back.errors(), part.errors()),
                    Map.of(), merge(back.vision(), part.vision()), 1);
        }
        assertEquals(sums, back);
        assertEquals(1, Records.layerStatsParts("s1", key, er, 2, sample(true), "clean", Instant.EPOCH, "a",
                Records.DEFAULT_STATS_RECORD_BYTES).size());
    }

    private static <V> Map<GroupKey, V> merge(Map<GroupKey, V> a, Map<GroupKey, V> b) {
        Map<GroupKey, V> m = new java.util.TreeMap<>(a);
        m.putAll(b);
        return m;
    }

    @Test
    void nonFiniteOrDuplicatedGroupsAreRefused() {
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", CalibrationSettings.defaults(QuantScheme.W3A16),
                Method.scaleSearches());
        LayerStats ok = Records.layerStats("s1", key, Records.settingsRecord(CalibrationSettings.defaults(QuantScheme.W3A16),
                Method.scaleSearches()), 1, sample(true), "clean", Instant.EPOCH, "a");
        LayerStats nan = LayerStats.newBuilder(ok).build();
        nan.getStatistics().get(0).getAbsSum().set(0, Double.NaN);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Records.sums(nan));
        assertTrue(e.getCause() instanceof ArithmeticException, "non-finite values are told apart");
        LayerStats twice = LayerStats.newBuilder(ok).setStatistics(List.of(ok.getStatistics().get(0), ok.getStatistics().get(0))).build();
        assertThrows(IllegalArgumentException.class, () -> Records.sums(twice));
    }

    @Test
    void plansAndConfigsSurviveTheirRecords() {
        CalibrationSettings settings = CalibrationSettings.defaults(QuantScheme.W4A8);
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", settings, Method.scaleSearches());
        EngineSettings er = Records.settingsRecord(settings, Method.scaleSearches());
        QuantConfig config = new QuantConfig(key.model(), QuantScheme.W4A8, Method.QIG, 4, 4,
                Map.of(KEY, new QuantConfig.GroupChoice(0.35, new float[] {0.5f, 2f, 1f}, 0.012, 0.02)),
                Map.of("planVersion", "3", "samples", "64", "driver", "stream"));
        assertEquals(config, Records.config(Records.configRecord(config, er, 3, 64, Instant.EPOCH)));
        QuantConfig staticConfig = new QuantConfig(key.model(), QuantScheme.W8A8_STATIC, Method.QIG, 4, 4, config.groups(),
                config.provenance()).withInputScales(Map.of(KEY, 0.031f));
        assertEquals(staticConfig, Records.config(Records.configRecord(staticConfig, er, 3, 64, Instant.EPOCH)));
        QuantConfig gptq = new QuantConfig(key.model(), QuantScheme.W4A16, Method.QIG_GPTQ, 1, 1, Map.of(), config.provenance(),
                new QuantConfig.WeightsRef("weights.safetensors", "ab".repeat(32)));
        assertEquals(gptq, Records.config(Records.configRecord(gptq, er, 3, 64, Instant.EPOCH)));
        CalibrationPlan plan = new CalibrationPlan(4, Map.of(KEY, new float[] {0.1f, 0.2f, 0.3f}), Map.of(KEY, Double.NaN), config);
        CalibrationPlan back = Records.plan(Records.planRecord(plan, key, er, 4, 64, Instant.EPOCH));
        assertEquals(plan.version(), back.version());
        assertEquals(config, back.distortion());
        assertTrue(java.util.Arrays.equals(plan.mu().get(KEY), back.mu().get(KEY)));
        assertTrue(back.gradientRatios().get(KEY).isNaN(), "an undefined ratio stays undefined");
    }
}
