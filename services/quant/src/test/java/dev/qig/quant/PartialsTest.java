package dev.qig.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The monoid of partial sums, the loss formulas, MBQ's median floor and the token score clip. */
class PartialsTest {

    /** One sample's sums of one group, with non-integer values of widely different magnitudes. */
    private static CalibrationSums sample(int seed) {
        java.util.Random r = new java.util.Random(seed);
        double[] e = new double[AlphaGrid.SIZE];
        double[] ea = new double[AlphaGrid.SIZE];
        double[] ev = new double[AlphaGrid.SIZE];
        double[] eq = new double[AlphaGrid.SIZE];
        for (int a = 0; a < e.length; a++) {
            e[a] = r.nextDouble() * Math.pow(10, r.nextInt(8) - 3);
            ea[a] = r.nextDouble() * 0.1;
            ev[a] = r.nextDouble() * 1e4;
            eq[a] = r.nextDouble() * 1e-5;
        }
        GroupKey key = new GroupKey(0, EqualizationGroup.QKV);
        GroupStatistics s = GroupStatistics.of(new double[] {r.nextDouble() * 1e6, r.nextDouble() * 1e-6},
                10 + r.nextInt(5), r.nextDouble() / 3, 16, r.nextDouble() * 7, 2);
        GroupErrors g = GroupErrors.of(e, ea, ev, eq, 30, 2, 16, r.nextDouble());
        return CalibrationSums.ofSample(Map.of(key, s), Map.of(key, g));
    }

    @Test
    void mergeIsExactInEveryOrder() {
        List<CalibrationSums> parts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            parts.add(sample(i + 1));
        }
        CalibrationSums reference = null;
        Set<String> lossesSeen = new java.util.HashSet<>();
        for (List<Integer> order : permutations(List.of(0, 1, 2, 3, 4))) {
            CalibrationSums total = CalibrationSums.EMPTY;
            for (int i : order) {
                total = total.plus(parts.get(i));
            }
            if (reference == null) {
                reference = total;
            }
            assertEquals(reference, total, "order " + order);
            GroupErrors errors = total.errors().values().iterator().next();
            lossesSeen.add(Double.toString(errors.lossUniform(7)) + "/" + errors.lossQig(3));
        }
        assertEquals(1, lossesSeen.size(), "every order gives bit-identical losses");
        // Grouping does not matter either: (a + b) + (c + (d + e)).
        CalibrationSums grouped = parts.get(0).plus(parts.get(1))
                .plus(parts.get(2).plus(parts.get(3).plus(parts.get(4))));
        assertEquals(reference, grouped);
        assertEquals(5, reference.samples());
        // And the exact sum differs from at least one plain left-to-right double sum: the test can fail.
        double[] plain = new double[2];
        ExactSum exact = ExactSum.ZERO;
        double[] values = {1e16, 1.0, -1e16, 0.1, 0.2};
        for (double v : values) {
            plain[0] += v;
            exact = exact.plus(v);
        }
        for (int i = values.length - 1; i >= 0; i--) {
            plain[1] += values[i];
        }
        assertTrue(plain[0] != plain[1], "double addition depends on order here");
        assertEquals(1.3, exact.doubleValue(), 0.0);
    }

    @Test
    void exactSumRoundsOnceToTheNearestDouble() {
        assertEquals(0.1 + 0.2, ExactSum.of(0.1).plus(0.2).doubleValue(), 0.0, "one addition rounds like double addition");
        assertEquals(0.0, ExactSum.of(1e300).plus(-1e300).doubleValue(), 0.0);
        assertEquals(ExactSum.ZERO, ExactSum.of(1e300).plus(-1e300));
        assertEquals(Double.MIN_VALUE, ExactSum.of(Double.MIN_VALUE).doubleValue(), 0.0);
        assertEquals(-3.5, ExactSum.sum(-1.25, -2.25).doubleValue(), 0.0);
        assertEquals(Double.MAX_VALUE, ExactSum.of(Double.MAX_VALUE).doubleValue(), 0.0);
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: ties go to even; with a sticky bit below, up.
        double big = 9007199254740992.0;
        assertEquals(big, ExactSum.of(big).plus(1.0).doubleValue(), 0.0);
        assertEquals(big + 2, ExactSum.of(big).plus(1.0).plus(1e-3).doubleValue(), 0.0);
        assertThrows(ArithmeticException.class, () -> ExactSum.of(Double.NaN));
        assertThrows(ArithmeticException.class, () -> ExactSum.of(Double.NEGATIVE_INFINITY));
        assertEquals(ExactSum.of(0.75), ExactSum.of(java.math.BigInteger.valueOf(6), -3), "canonical form");
    }

    @Test
    void statisticsOnlyAndSearchSumsAddWithoutMixingUp() {
        GroupKey key = new GroupKey(0, EqualizationGroup.QKV);
        CalibrationSums search = sample(9);
        CalibrationSums statistics = CalibrationSums.ofSample(search.statistics(), Map.of());
        assertTrue(!statistics.hasErrors());
        CalibrationSums both = statistics.plus(search);
        assertEquals(search.errors(), both.errors(), "errors come from the search sums alone");
        assertEquals(2 * search.statistics().get(key).tokens(), both.statistics().get(key).tokens());
        assertThrows(IllegalArgumentException.class, () -> search.statistics().get(key)
                .plus(GroupStatistics.of(new double[3], 1, 0, 0, 0, 0)));
        assertThrows(ArithmeticException.class, () -> GroupStatistics.of(new double[] {Double.NaN}, 1, 0, 0, 0, 0));
    }

    @Test
    void lossesAreTheWeightedMeansOfTheMethod() {
        CalibrationSums sums = sample(4);
        GroupErrors p = sums.errors().values().iterator().next();
        GroupStatistics s = sums.statistics().values().iterator().next();
        assertEquals(p.eAll()[3].doubleValue() / p.nAll(), p.lossUniform(3), 1e-12);
        assertEquals((p.eAnswer()[3].doubleValue() + 0.5 * p.eVision()[3].doubleValue()) / (p.nAnswer() + 0.5 * p.nVision()),
                p.lossModality(3, 0.5), 1e-12);
        assertEquals(p.eQig()[3].doubleValue() / p.lambdaSum().doubleValue(), p.lossQig(3), 1e-12);
        assertArrayEquals(new float[] {(float) (s.absSum()[0].doubleValue() / s.tokens()),
                (float) (s.absSum()[1].doubleValue() / s.tokens())}, s.channelMeans(), 0f);
    }

    private static List<List<Integer>> permutations(List<Integer> items) {
        if (items.size() <= 1) {
            return List.of(items);
        }
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            List<Integer> rest = new ArrayList<>(items);
            Integer head = rest.remove(i);
            for (List<Integer> tail : permutations(rest)) {
                List<Integer> p = new ArrayList<>();
                p.add(head);
                p.addAll(tail);
                out.add(p);
            }
        }
        return out;
    }

    @Test
    void argminKeepsTheFirstStrictMinimum() {
        assertEquals(0, ScaleSearch.argmin(new double[] {1, 1, 1}));
        assertEquals(1, ScaleSearch.argmin(new double[] {2, 1, 1, 3}));
        assertEquals(3, ScaleSearch.argmin(new double[] {2, 1, 1, 0.5}));
    }

    @Test
    void mbqRatioIsFlooredAtTheMedianOverLayersPerSide() {
        Map<GroupKey, GroupStatistics> sums = new TreeMap<>();
        double[] ratios = {0.2, 1.0, 3.0};
        for (int layer = 0; layer < 3; layer++) {
            for (EqualizationGroup g : new EqualizationGroup[] {EqualizationGroup.QKV, EqualizationGroup.GATE_UP}) {
                double r = g == EqualizationGroup.QKV ? ratios[layer] : 10 * ratios[layer];
                sums.put(new GroupKey(layer, g), GroupStatistics.of(new double[1], 1, r * 4, 4, 1, 1));
            }
        }
        Map<GroupKey, Double> floored = ScaleSearch.flooredRatios(sums);
        assertEquals(1.0, floored.get(new GroupKey(0, EqualizationGroup.QKV)), 1e-12);
        assertEquals(1.0, floored.get(new GroupKey(1, EqualizationGroup.QKV)), 1e-12);
        assertEquals(3.0, floored.get(new GroupKey(2, EqualizationGroup.QKV)), 1e-12);
        assertEquals(10.0, floored.get(new GroupKey(0, EqualizationGroup.GATE_UP)), 1e-12);
        assertEquals(30.0, floored.get(new GroupKey(2, EqualizationGroup.GATE_UP)), 1e-12);
    }

    @Test
    void alphaGridIsTwentyPointsAndAlphaZeroIsAllOnes() {
        assertEquals(20, AlphaGrid.SIZE);
        assertEquals(0.95, AlphaGrid.alpha(19), 1e-12);
        float[] mu = {0.1f, 2f, 0f, 7f};
        assertArrayEquals(new float[] {1, 1, 1, 1}, AlphaGrid.scales(mu, 0), 0f);
        float[] s = AlphaGrid.scales(mu, 0.5);
        // max(mu^a, 1e-4) normalized by sqrt(max * min): max * min of the result is 1.
        float max = 0;
        float min = Float.MAX_VALUE;
        for (float v : s) {
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        assertEquals(1.0, max * min, 1e-5);
        assertEquals(Math.sqrt(7 / 2.0), s[3] / s[1], 1e-5);
        assertEquals(19, AlphaGrid.indexOf(0.95));
        assertThrows(IllegalArgumentException.class, () -> AlphaGrid.indexOf(0.33));
    }

    @Test
    void tokenScoresNormalizeAndClipAtTheIqrFences() {
        // Percentiles with linear interpolation: for 1..8, q1 = 2.75, q3 = 6.25 (numpy's default).
        float[] v = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEquals(2.75, TokenScores.percentile(v, 0.25), 1e-6);
        assertEquals(6.25, TokenScores.percentile(v, 0.75), 1e-6);
        // One outlier: normalized scores 1/108 ... 100/108 -> clipped to the upper fence.
        float[] u = {1, 1, 1, 1, 1, 1, 1, 100};
        float[] unclipped = TokenScores.weights(u, false);
        assertEquals(100 / 107.0, unclipped[7], 1e-6);
        float[] clipped = TokenScores.weights(u, true);
        // All but the outlier are equal, so q1 = q3 = 1/107 and the fence is 1/107: uniform after renormalizing.
        for (float w : clipped) {
            assertEquals(1 / 8.0, w, 1e-6);
        }
        float[] zeros = TokenScores.weights(new float[4], true);
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f, 0.25f}, zeros, 0f);
    }
}
