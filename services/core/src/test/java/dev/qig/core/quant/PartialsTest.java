package dev.qig.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The monoid of partial sums, the loss formulas, MBQ's median floor and the token score clip. */
class PartialsTest {

    private static GroupPartials sample(int seed) {
        java.util.Random r = new java.util.Random(seed);
        double[] e = new double[AlphaGrid.SIZE];
        double[] ea = new double[AlphaGrid.SIZE];
        double[] ev = new double[AlphaGrid.SIZE];
        double[] eq = new double[AlphaGrid.SIZE];
        for (int a = 0; a < e.length; a++) {
            e[a] = r.nextInt(100);
            ea[a] = r.nextInt(100);
            ev[a] = r.nextInt(100);
            eq[a] = r.nextInt(100);
        }
        return GroupPartials.of(new double[] {r.nextInt(9), r.nextInt(9)}, 10 + r.nextInt(5), r.nextInt(7), 16,
                1 + r.nextInt(7), 2, e, ea, ev, eq, 30, 2, 16, 1.0, 1);
    }

    @Test
    void plusIsCommutativeAndAssociative() {
        GroupPartials a = sample(1);
        GroupPartials b = sample(2);
        GroupPartials c = sample(3);
        assertEquals(a.plus(b), b.plus(a));
        assertEquals(a.plus(b).plus(c), a.plus(b.plus(c)));
        assertEquals(3, a.plus(b).plus(c).samples());
        assertThrows(IllegalArgumentException.class, () -> a.plus(new GroupPartials(3, true)));
    }

    @Test
    void lossesAreTheWeightedMeansOfTheMethod() {
        GroupPartials p = sample(4);
        assertEquals(p.eAll()[3] / p.nAll(), p.lossUniform(3), 1e-12);
        assertEquals((p.eAnswer()[3] + 0.5 * p.eVision()[3]) / (p.nAnswer() + 0.5 * p.nVision()), p.lossModality(3, 0.5), 1e-12);
        assertEquals(p.eQig()[3] / p.lambdaSum(), p.lossQig(3), 1e-12);
        assertArrayEquals(new float[] {(float) (p.absSum()[0] / p.tokens()), (float) (p.absSum()[1] / p.tokens())},
                p.channelMeans(), 1e-6f);
    }

    @Test
    void argminKeepsTheFirstStrictMinimum() {
        assertEquals(0, ScaleSearch.argmin(new double[] {1, 1, 1}));
        assertEquals(1, ScaleSearch.argmin(new double[] {2, 1, 1, 3}));
        assertEquals(3, ScaleSearch.argmin(new double[] {2, 1, 1, 0.5}));
    }

    @Test
    void mbqRatioIsFlooredAtTheMedianOverLayersPerSide() {
        Map<GroupKey, GroupPartials> sums = new TreeMap<>();
        double[] ratios = {0.2, 1.0, 3.0};
        for (int layer = 0; layer < 3; layer++) {
            for (EqualizationGroup g : new EqualizationGroup[] {EqualizationGroup.QKV, EqualizationGroup.GATE_UP}) {
                double r = g == EqualizationGroup.QKV ? ratios[layer] : 10 * ratios[layer];
                sums.put(new GroupKey(layer, g), GroupPartials.of(new double[1], 1, r * 4, 4, 1, 1, new double[0],
                        new double[0], new double[0], new double[0], 0, 0, 0, 0, 1));
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
