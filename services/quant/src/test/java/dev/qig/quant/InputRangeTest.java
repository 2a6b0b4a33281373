package dev.qig.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The static schemes' range statistic: exact, order-free merge, and the range once scales are folded. */
class InputRangeTest {

    @Test
    void mergingInAnyOrderAndGroupingGivesTheSameRange() {
        Random r = new Random(7);
        List<InputRange> samples = new ArrayList<>();
        float[] max = new float[16];
        for (int i = 0; i < 40; i++) {
            float[] v = new float[16];
            for (int c = 0; c < v.length; c++) {
                v[c] = (float) Math.abs(r.nextGaussian() * Math.exp(3 * r.nextGaussian()));
                max[c] = Math.max(max[c], v[c]);
            }
            samples.add(InputRange.of(v));
        }
        InputRange sequential = samples.get(0);
        for (InputRange s : samples.subList(1, samples.size())) {
            sequential = sequential.plus(s);
        }
        assertEquals(InputRange.of(max), sequential, "the per-channel maximum, exactly");
        for (int trial = 0; trial < 5; trial++) {
            Collections.shuffle(samples, r);
            // Two halves summed separately, then merged: any grouping.
            int cut = 1 + r.nextInt(samples.size() - 1);
            InputRange a = samples.get(0);
            for (InputRange s : samples.subList(1, cut)) {
                a = a.plus(s);
            }
            InputRange b = samples.get(cut);
            for (InputRange s : samples.subList(cut + 1, samples.size())) {
                b = b.plus(s);
            }
            assertEquals(sequential, b.plus(a));
        }
    }

    @Test
    void foldedScalesDivideEachChannelsRange() {
        InputRange range = InputRange.of(new float[] {1f, 8f, 2f});
        assertEquals(8f, range.scaledAbsMax(null));
        assertEquals(4f, range.scaledAbsMax(new float[] {1f, 2f, 0.5f}), "max(1/1, 8/2, 2/0.5)");
        assertEquals(8f / 127, InputRange.scaleFor(range.scaledAbsMax(null), 8));
    }

    @Test
    void nonFiniteOrMismatchedRangesAreRefused() {
        assertThrows(ArithmeticException.class, () -> InputRange.of(new float[] {1f, Float.NaN}));
        assertThrows(ArithmeticException.class, () -> InputRange.of(new float[] {Float.POSITIVE_INFINITY}));
        assertThrows(ArithmeticException.class, () -> InputRange.of(new float[] {-1f}));
        assertThrows(IllegalArgumentException.class, () -> InputRange.of(new float[] {1f}).plus(InputRange.of(new float[] {1f, 2f})));
    }
}
