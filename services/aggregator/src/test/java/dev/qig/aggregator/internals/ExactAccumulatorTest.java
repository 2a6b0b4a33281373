package dev.qig.aggregator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qig.quant.ExactSum;
import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The mutable exact sum gives ExactSum.plus's value, canonical and bit for bit, whatever it adds. */
class ExactAccumulatorTest {

    private static double draw(SplittableRandom r) {
        return switch (r.nextInt(6)) {
            case 0 -> 0.0;
            case 1 -> Double.MIN_VALUE * r.nextInt(1, 1000) * (r.nextBoolean() ? 1 : -1); // subnormal
            case 2 -> Double.longBitsToDouble(r.nextLong() & 0x7FEF_FFFF_FFFF_FFFFL) * (r.nextBoolean() ? 1 : -1); // any exponent
            case 3 -> Math.scalb(r.nextDouble(), r.nextInt(-40, 40)) * (r.nextBoolean() ? 1 : -1); // a round's typical spread
            case 4 -> Math.scalb(r.nextDouble(), r.nextInt(-40, 40)); // all positive, as |x| sums
            default -> r.nextDouble() * 1e6;
        };
    }

    @Test
    void addingDoublesGivesTheExactSum() {
        SplittableRandom r = new SplittableRandom(20);
        for (int trial = 0; trial < 300; trial++) {
            ExactAccumulator acc = new ExactAccumulator();
            ExactSum expected = ExactSum.ZERO;
            int n = r.nextInt(1, 200);
            for (int i = 0; i < n; i++) {
                double v = trial % 3 == 0 ? Math.abs(draw(r)) : draw(r);
                acc.add(ExactSum.of(v));
                expected = expected.plus(v);
                if (r.nextInt(20) == 0) {
                    assertEquals(expected, acc.toExactSum(), "read midway (trial " + trial + ")");
                }
            }
            ExactSum got = acc.toExactSum();
            assertEquals(expected, got, "trial " + trial);
            assertEquals(expected.unscaled(), got.unscaled());
            assertEquals(expected.exponent(), got.exponent());
            assertEquals(Double.doubleToRawLongBits(expected.doubleValue()), Double.doubleToRawLongBits(got.doubleValue()));
        }
    }

    @Test
    void addingWideSumsAndCancellingToZeroAreExact() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            ExactAccumulator acc = new ExactAccumulator();
            ExactSum expected = ExactSum.ZERO;
            for (int i = 0; i < 20; i++) {
                // Wide integers (as read back from a store) of either sign, at any exponent.
                ExactSum s = ExactSum.of(new BigInteger(r.nextInt(1, 400), new java.util.Random(r.nextLong()))
                        .multiply(BigInteger.valueOf(r.nextBoolean() ? 1 : -1)), r.nextInt(-1100, 1000));
                acc.add(s);
                expected = expected.plus(s);
            }
            assertEquals(expected, acc.toExactSum(), "trial " + trial);
            // Subtracting everything again leaves exactly zero.
            acc.add(ExactSum.of(expected.unscaled().negate(), expected.exponent()));
            assertEquals(ExactSum.ZERO, acc.toExactSum());
        }
        ExactAccumulator acc = new ExactAccumulator();
        acc.add(ExactSum.of(1.5));
        acc.add(ExactSum.of(-1.5));
        assertEquals(ExactSum.ZERO, acc.toExactSum());
        assertEquals(ExactSum.ZERO, new ExactAccumulator().toExactSum());
    }

    @Test
    void manyAdditionsCarryWithoutOverflow() {
        // Values whose 32-bit chunks are all ones: every addition pushes each limb near its bound.
        double v = Math.scalb((double) ((1L << 53) - 1), -20);
        ExactAccumulator acc = new ExactAccumulator();
        for (int i = 0; i < 3_000_000; i++) {
            acc.add(ExactSum.of(v));
        }
        assertEquals(ExactSum.of(BigInteger.valueOf((1L << 53) - 1).multiply(BigInteger.valueOf(3_000_000)), -20),
                acc.toExactSum());
    }
}
