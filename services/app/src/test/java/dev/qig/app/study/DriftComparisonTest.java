package dev.qig.app.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.quant.Method;
import dev.qig.core.vqa.PairedComparison;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class DriftComparisonTest {

    private static PairedComparison interval(double lower, double upper) {
        return new PairedComparison((lower + upper) / 2, lower, upper, 0.95, Double.NaN, 0, 0);
    }

    @Test
    void verdictReadsTheIntervalWithTheMetricsDirection() {
        assertEquals(Verdict.BETTER, Verdict.of(interval(0.01, 0.03), true));
        assertEquals(Verdict.WORSE, Verdict.of(interval(-0.03, -0.01), true));
        assertEquals(Verdict.NOT_DISTINGUISHABLE, Verdict.of(interval(-0.01, 0.02), true));
        assertEquals(Verdict.NOT_DISTINGUISHABLE, Verdict.of(interval(0.0, 0.02), true), "an interval touching zero holds it");
        // lower KL is better
        assertEquals(Verdict.WORSE, Verdict.of(interval(0.01, 0.03), false));
        assertEquals(Verdict.BETTER, Verdict.of(interval(-0.03, -0.01), false));
        assertEquals(Verdict.NOT_DISTINGUISHABLE, Verdict.of(interval(-0.01, 0.02), false));
    }

    @Test
    void reCalibrationThatFixesManyQuestionsIsBetterAndItsLowerKlToo() {
        int n = 200;
        boolean[] before = new boolean[n];
        boolean[] after = new boolean[n];
        double[] klBefore = new double[n];
        double[] klAfter = new double[n];
        for (int i = 0; i < n; i++) {
            before[i] = i % 2 == 0;       // 50%
            after[i] = i % 10 != 9;       // 90%: fixes 80 questions, breaks none
            klBefore[i] = 0.02 + 0.001 * (i % 7);
            klAfter[i] = klBefore[i] - 0.01;
        }
        DriftComparison c = DriftComparison.of(Method.QIG, List.of(before), List.of(after), List.of(klBefore),
                List.of(klAfter), 0.95);
        assertEquals(0.5, c.meanBefore(), 1e-12);
        assertEquals(0.9, c.meanAfter(), 1e-12);
        assertEquals(0.4, c.accuracy().difference(), 1e-12);
        assertEquals(Verdict.BETTER, c.accuracyVerdict());
        assertEquals(-0.01, c.kl().difference(), 1e-12);
        assertEquals(Verdict.BETTER, c.klVerdict());
        assertEquals(PairedComparison.mcnemarExact(80, 0), c.pValues()[0], 1e-15);
        String line = c.verdictLine(Domain.CLEAN, Domain.CLUTTERED);
        assertTrue(line.startsWith("- clean -> cluttered, qig: re-calibration better in accuracy (+40.0 ["), line);
        assertTrue(line.contains("better in KL (-10.00 [-10.00, -10.00] x 1e-3)"), line);
    }

    @Test
    void identicalConfigsAreNotDistinguishableAndDrawsArePaired() {
        boolean[] a = {true, false, true, true};
        boolean[] b = {false, true, true, false};
        double[] kl = {0.1, 0.2, 0.3, 0.4};
        DriftComparison c = DriftComparison.of(Method.AWQ, List.of(a, b), List.of(a, b), List.of(kl, kl), List.of(kl, kl),
                0.95);
        assertEquals(0, c.accuracy().difference(), 0);
        assertEquals(Verdict.NOT_DISTINGUISHABLE, c.accuracyVerdict());
        assertEquals(Verdict.NOT_DISTINGUISHABLE, c.klVerdict());
        assertEquals("1.000, 1.000", c.pValueList());
        assertTrue(Arrays.equals(new double[] {0.75, 0.5}, c.accuracyBefore()));
        assertEquals("62.5 (75.0, 50.0)", DriftComparison.percent(c.accuracyBefore()));
        assertEquals(0.25, c.klBefore(), 1e-12);
    }
}
