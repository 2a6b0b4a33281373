package dev.qig.aggregator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The drift statistics on hand-made loss curves and channel means. */
class DriftMonitorTest {

    /** A loss curve over the 20 alphas of the grid with its minimum, 2.0, at index 6. */
    private static double[] curve() {
        double[] loss = new double[20];
        for (int a = 0; a < loss.length; a++) {
            loss[a] = 2.0 + 0.1 * Math.abs(a - 6);
        }
        return loss;
    }

    @Test
    void theRegretIsTheLossInForceOverTheBestLossMinusOne() {
        double[] loss = curve();
        assertEquals(0.0, DriftMonitor.regret(loss, 6), 0.0, "the best alpha has no regret");
        assertEquals(2.5 / 2.0 - 1, DriftMonitor.regret(loss, 1), 1e-15);
        assertEquals(3.3 / 2.0 - 1, DriftMonitor.regret(loss, 19), 1e-15);
    }

    @Test
    void aZeroMinimumHasNoRelativeRegret() {
        double[] loss = curve();
        loss[3] = 0.0;
        assertEquals(Double.POSITIVE_INFINITY, DriftMonitor.regret(loss, 6));
        assertEquals(0.0, DriftMonitor.regret(loss, 3), 0.0);
        loss[5] = Double.NaN;
        assertTrue(Double.isNaN(DriftMonitor.regret(loss, 5)));
    }

    @Test
    void theMuShiftIsRelativeToThePlansNorm() {
        float[] plan = {3, 4};
        assertEquals(0.0, DriftMonitor.muShift(plan, plan), 0.0);
        assertEquals(1.0 / 5, DriftMonitor.muShift(new float[] {3, 5}, plan), 1e-12);
        assertEquals(1.0, DriftMonitor.muShift(new float[] {6, 8}, plan), 1e-12);
        assertEquals(0.0, DriftMonitor.muShift(new float[2], new float[2]), 0.0);
        assertEquals(Double.POSITIVE_INFINITY, DriftMonitor.muShift(new float[] {1, 0}, new float[2]));
        assertThrows(IllegalArgumentException.class, () -> DriftMonitor.muShift(new float[3], plan));
    }

    @Test
    void theVisionShiftIsMeasuredWhereTheRoundAndThePlanHaveVisionStatistics() {
        var site = dev.qig.core.engine.PartialSumsEngine.VISION_SITES.get(0);
        var statistics = java.util.Map.of(site, dev.qig.quant.GroupStatistics.of(new double[] {4, 8}, 4, 0, 0, 0, 0));
        var vision = java.util.Map.of(site, dev.qig.quant.GroupStatistics.of(new double[] {3, 5}, 2, 0, 0, 0, 0));
        var sums = new dev.qig.quant.CalibrationSums(statistics, java.util.Map.of(), java.util.Map.of(), vision, 1);
        var plan = new dev.qig.quant.CalibrationPlan(1, java.util.Map.of(site, new float[] {1, 2}), java.util.Map.of(),
                null, java.util.Map.of(site, new float[] {1.5f, 2f}));
        var settings = dev.qig.quant.CalibrationSettings.defaults(dev.qig.quant.QuantScheme.W3A16);
        var m = DriftMonitor.measure(sums, plan, settings, java.util.Map.of());
        // The round's vision means are (1.5, 2.5): shifted by 0.5 against a plan of norm 2.5.
        assertEquals(0.2, m.visionShift(), 1e-6);
        assertEquals(0.0, m.muShifts().get(site), 0.0, "all tokens' means (1, 2) did not move");
        var thresholds = new dev.qig.aggregator.AggregatorConfig.DriftThresholds(dev.qig.quant.Method.QIG, 0.05, 0.07,
                0.04, 1);
        assertTrue(m.visionShiftOver(thresholds));
        var noVisionPlan = new dev.qig.quant.CalibrationPlan(1, plan.mu(), java.util.Map.of(), null);
        assertTrue(Double.isNaN(DriftMonitor.measure(sums, noVisionPlan, settings, java.util.Map.of()).visionShift()),
                "a plan from before the vision statistics: not measured");
        assertTrue(!DriftMonitor.measure(sums, noVisionPlan, settings, java.util.Map.of()).visionShiftOver(thresholds));
    }

    @Test
    void aRoundCountsByTheMedianGroupSoThatOneNoisyGroupIsNoDrift() {
        java.util.Map<dev.qig.quant.GroupKey, Double> shifts = new java.util.TreeMap<>();
        shifts.put(new dev.qig.quant.GroupKey(0, dev.qig.quant.EqualizationGroup.QKV), 0.01);
        shifts.put(new dev.qig.quant.GroupKey(0, dev.qig.quant.EqualizationGroup.GATE_UP), 0.03);
        shifts.put(new dev.qig.quant.GroupKey(0, dev.qig.quant.EqualizationGroup.DOWN), 0.50);
        var thresholds = new dev.qig.aggregator.AggregatorConfig.DriftThresholds(dev.qig.quant.Method.QIG, 0.05, 0.07, 0.04, 1);
        DriftMonitor.Measurement noisyDown = new DriftMonitor.Measurement(java.util.Map.of(), shifts, java.util.Map.of());
        assertEquals(0.50, noisyDown.maxMuShift(), 0.0);
        assertEquals(0.03, noisyDown.medianMuShift(), 0.0);
        assertTrue(!noisyDown.muShiftOver(thresholds), "one group over is noise, not a drift");
        assertTrue(noisyDown.over(new dev.qig.quant.GroupKey(0, dev.qig.quant.EqualizationGroup.DOWN), thresholds),
                "the group itself is listed as over");

        shifts.put(new dev.qig.quant.GroupKey(1, dev.qig.quant.EqualizationGroup.QKV), 0.15);
        DriftMonitor.Measurement most = new DriftMonitor.Measurement(java.util.Map.of(), shifts, java.util.Map.of());
        assertEquals((0.03 + 0.15) / 2, most.medianMuShift(), 1e-15, "an even count takes the mean of the middle two");
        assertTrue(most.muShiftOver(thresholds));
        assertTrue(Double.isNaN(most.medianRegret(dev.qig.quant.Method.QIG)), "no config in force: no regret");
    }
}
