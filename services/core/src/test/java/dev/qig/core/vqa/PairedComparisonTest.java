package dev.qig.core.vqa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** McNemar's exact test against hand-computed binomial tails, and the paired bootstrap on known differences. */
class PairedComparisonTest {

    @Test
    void mcnemarIsTheExactTwoSidedBinomialTail() {
        assertEquals(1.0, PairedComparison.mcnemarExact(0, 0), 0);
        assertEquals(2.0 / 32, PairedComparison.mcnemarExact(0, 5), 1e-15); // 2 * C(5,0) / 2^5
        assertEquals(2.0 * 11 / 1024, PairedComparison.mcnemarExact(9, 1), 1e-15); // 2 * (C(10,0)+C(10,1)) / 2^10
        assertEquals(1.0, PairedComparison.mcnemarExact(3, 3), 0); // capped at 1
        // 2 * (C(20,0) + C(20,1)) / 2^20 for 1 against 19.
        assertEquals(2.0 * 21 / 1048576, PairedComparison.mcnemarExact(19, 1), 1e-15);
        assertEquals(PairedComparison.mcnemarExact(40, 60), PairedComparison.mcnemarExact(60, 40), 0);
    }

    @Test
    void aClearDifferenceIsDistinguishableAndNoDifferenceIsNot() {
        Random r = new Random(7);
        int n = 2000;
        boolean[] a = new boolean[n];
        boolean[] b = new boolean[n];
        boolean[] same = new boolean[n];
        for (int i = 0; i < n; i++) {
            b[i] = r.nextDouble() < 0.90;
            a[i] = b[i] || r.nextDouble() < 0.5; // a fixes half of b's mistakes: +5 points
            same[i] = b[i];
        }
        PairedComparison better = PairedComparison.accuracy(a, b, 0.95);
        int fixed = 0;
        for (int i = 0; i < n; i++) {
            fixed += a[i] && !b[i] ? 1 : 0;
        }
        assertEquals((double) fixed / n, better.difference(), 1e-12);
        assertEquals(fixed, better.onlyA());
        assertEquals(0, better.onlyB());
        assertTrue(better.lower() > 0 && better.distinguishable(), better.toString());
        assertTrue(better.pValue() < 1e-10, better.toString());

        PairedComparison none = PairedComparison.accuracy(same, b, 0.95);
        assertEquals(0, none.difference(), 0);
        assertFalse(none.distinguishable());
        assertEquals(1.0, none.pValue(), 0);
    }

    @Test
    void theIntervalMatchesTheNormalApproximationOfAPairedMean() {
        // Differences of +1 on 10% of the questions and -1 on 5%: mean 0.05, sd of the mean
        // sqrt((0.15 - 0.05^2) / n); the 95% percentile interval is close to mean -+ 1.96 sd.
        int n = 4000;
        double[][] a = new double[1][n];
        double[][] b = new double[1][n];
        for (int i = 0; i < n; i++) {
            a[0][i] = i % 20 < 2 ? 1 : 0;
            b[0][i] = i % 20 == 2 ? 1 : 0;
        }
        PairedComparison d = PairedComparison.meanDifference(a, b, 0.95);
        double sd = Math.sqrt((0.15 - 0.05 * 0.05) / n);
        assertEquals(0.05, d.difference(), 1e-12);
        assertEquals(0.05 - 1.96 * sd, d.lower(), 0.25 * sd);
        assertEquals(0.05 + 1.96 * sd, d.upper(), 0.25 * sd);
        assertEquals(d, PairedComparison.meanDifference(a, b, 0.95), "seeded: the same interval every time");
    }

    @Test
    void drawsThatDisagreeWidenTheInterval() {
        int n = 2000;
        boolean[] ref = new boolean[n];
        boolean[] up = new boolean[n];
        boolean[] down = new boolean[n];
        for (int i = 0; i < n; i++) {
            ref[i] = i % 10 != 0;
            up[i] = ref[i] || i % 20 == 0;     // +5 points
            down[i] = ref[i] && i % 20 != 1;   // -5 points
        }
        PairedComparison consistent = PairedComparison.accuracy(List.of(up, up), List.of(ref, ref), 0.95);
        PairedComparison mixed = PairedComparison.accuracy(List.of(up, down), List.of(ref, ref), 0.95);
        assertTrue(consistent.distinguishable());
        assertEquals(0, mixed.difference(), 1e-12);
        assertFalse(mixed.distinguishable(), "one draw better, one worse: " + mixed);
        assertTrue(Double.isNaN(mixed.pValue()), "no McNemar p over several draws");
    }
}
