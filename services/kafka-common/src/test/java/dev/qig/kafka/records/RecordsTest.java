package dev.qig.kafka.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.core.quant.AlphaGrid;
import dev.qig.core.quant.CalibrationPlan;
import dev.qig.core.quant.CalibrationSettings;
import dev.qig.core.quant.CalibrationSums;
import dev.qig.core.quant.EqualizationGroup;
import dev.qig.core.quant.GroupErrors;
import dev.qig.core.quant.GroupKey;
import dev.qig.core.quant.GroupStatistics;
import dev.qig.core.quant.Method;
import dev.qig.core.quant.QuantConfig;
import dev.qig.core.quant.QuantScheme;
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
    void aSamplesSumsSurviveTheirRecordExactly() {
        CalibrationSettings settings = CalibrationSettings.defaults(QuantScheme.W4A8);
        EngineSettings er = Records.settingsRecord(settings, EnumSet.of(Method.QIG, Method.AWQ));
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", settings, EnumSet.of(Method.AWQ, Method.QIG));
        for (boolean search : new boolean[] {false, true}) {
            CalibrationSums sums = sample(search);
            LayerStats record = Records.layerStats("s1", key, er, search ? 3 : 0, sums, "clean", Instant.EPOCH, "a");
            assertEquals(search ? PartialsKind.SEARCH : PartialsKind.STATISTICS, record.getKind());
            assertEquals(sums, Records.sums(record));
        }
        assertEquals("sha256-0123456789abcdef/w4a8/reference_code-ig16mid-iqr-awq+qig", key.toString());
        assertEquals(key, RoundKey.parse(key.toString()));
        assertEquals(List.of("awq", "qig"), er.getMethods(), "methods in a fixed order");
        assertEquals(settings.igSteps(), Records.settings(er, QuantScheme.W4A8).igSteps());
    }

    @Test
    void nonFiniteOrDuplicatedGroupsAreRefused() {
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", CalibrationSettings.defaults(QuantScheme.W3A16),
                EnumSet.allOf(Method.class));
        LayerStats ok = Records.layerStats("s1", key, Records.settingsRecord(CalibrationSettings.defaults(QuantScheme.W3A16),
                EnumSet.allOf(Method.class)), 1, sample(true), "clean", Instant.EPOCH, "a");
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
        RoundKey key = RoundKey.of("sha256-0123456789abcdef", settings, EnumSet.allOf(Method.class));
        EngineSettings er = Records.settingsRecord(settings, EnumSet.allOf(Method.class));
        QuantConfig config = new QuantConfig(key.model(), QuantScheme.W4A8, Method.QIG, 4, 4,
                Map.of(KEY, new QuantConfig.GroupChoice(0.35, new float[] {0.5f, 2f, 1f}, 0.012, 0.02)),
                Map.of("planVersion", "3", "samples", "64", "driver", "stream"));
        assertEquals(config, Records.config(Records.configRecord(config, er, 3, 64, Instant.EPOCH)));
        CalibrationPlan plan = new CalibrationPlan(4, Map.of(KEY, new float[] {0.1f, 0.2f, 0.3f}), Map.of(KEY, Double.NaN), config);
        CalibrationPlan back = Records.plan(Records.planRecord(plan, key, er, 4, 64, Instant.EPOCH));
        assertEquals(plan.version(), back.version());
        assertEquals(config, back.distortion());
        assertTrue(java.util.Arrays.equals(plan.mu().get(KEY), back.mu().get(KEY)));
        assertTrue(back.gradientRatios().get(KEY).isNaN(), "an undefined ratio stays undefined");
    }
}
