package dev.qig.core.engine.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.quant.ExactSum;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The Hessian accumulator is exact: checked against BigDecimal, across orders and groupings, and for weights. */
class HessianSumTest {

    /** Values spread over 2^-70 .. 2^70, so products span far more than the three double levels hold. */
    private static float[] wideRange(long seed, int n) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int k = 0; k < n; k++) {
            x[k] = (float) Math.scalb(rnd.nextGaussian(), rnd.nextInt(141) - 70);
        }
        return x;
    }

    private static float[] weights(long seed, int n) {
        Random rnd = new Random(seed);
        float[] w = new float[n];
        for (int t = 0; t < n; t++) {
            w[t] = switch (t % 4) {
                case 0 -> 0f;
                case 1 -> rnd.nextInt(5);
                default -> (float) Math.scalb(rnd.nextDouble(), rnd.nextInt(20) - 10);
            };
        }
        return w;
    }

    private static BigDecimal exact(ExactSum s) {
        BigDecimal unscaled = new BigDecimal(s.unscaled());
        return s.exponent() >= 0
                ? unscaled.multiply(new BigDecimal(BigInteger.TWO.pow(s.exponent())))
                : unscaled.divide(new BigDecimal(BigInteger.TWO.pow(-s.exponent())));
    }

    @Test
    void entriesAreExactSumsOfWeightedProducts() {
        int n = 9;
        int tokens = 60;
        float[] x = wideRange(1, tokens * n);
        float[] w = weights(2, tokens);
        HessianSum sum = new HessianSum(n);
        sum.add(x, tokens, w);
        BigDecimal weightTotal = BigDecimal.ZERO;
        for (float wt : w) {
            weightTotal = weightTotal.add(new BigDecimal(wt));
        }
        assertEquals(0, weightTotal.compareTo(exact(sum.weightSum())), "weight sum");
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                BigDecimal want = BigDecimal.ZERO;
                for (int t = 0; t < tokens; t++) {
                    want = want.add(new BigDecimal(w[t]).multiply(new BigDecimal(x[t * n + i]))
                            .multiply(new BigDecimal(x[t * n + j])));
                }
                assertEquals(0, want.compareTo(exact(sum.sum(i, j))), "entry " + i + "," + j);
            }
        }
        // The mean is the exact quotient rounded once.
        double[] h = sum.toMatrix();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double want = exact(sum.sum(i, j)).divide(weightTotal, new MathContext(60)).doubleValue();
                assertEquals(want, h[i * n + j], "mean " + i + "," + j);
            }
        }
    }

    @Test
    void orderAndGroupingDoNotChangeABit() {
        int n = 23;
        int tokens = 300;
        float[] x = wideRange(3, tokens * n);
        float[] w = weights(4, tokens);
        // Blocks of uneven sizes.
        List<int[]> blocks = new ArrayList<>();
        Random rnd = new Random(5);
        for (int t = 0; t < tokens; ) {
            int size = Math.min(tokens - t, 1 + rnd.nextInt(40));
            blocks.add(new int[] {t, size});
            t += size;
        }
        HessianSum inOrder = new HessianSum(n);
        for (int[] block : blocks) {
            add(inOrder, x, w, block, n);
        }
        double[] reference = inOrder.toMatrix();

        for (int trial = 0; trial < 4; trial++) {
            List<int[]> shuffled = new ArrayList<>(blocks);
            Collections.shuffle(shuffled, new Random(10 + trial));
            // Some blocks straight into one sum, the rest in random partial sums merged in random order.
            HessianSum merged = new HessianSum(n);
            List<HessianSum> partials = new ArrayList<>();
            for (int[] block : shuffled) {
                int target = rnd.nextInt(4);
                if (target == 0) {
                    add(merged, x, w, block, n);
                } else {
                    while (partials.size() < target) {
                        partials.add(new HessianSum(n));
                    }
                    add(partials.get(target - 1), x, w, block, n);
                }
            }
            Collections.shuffle(partials, new Random(20 + trial));
            HessianSum tree = partials.isEmpty() ? new HessianSum(n) : partials.get(0);
            for (int k = 1; k < partials.size(); k++) {
                tree = k % 2 == 0 ? tree.plus(partials.get(k)) : partials.get(k).plus(tree);
            }
            merged.plus(tree);
            assertEquals(inOrder.tokens(), merged.tokens(), "tokens");
            assertEquals(inOrder.weightSum(), merged.weightSum(), "weight sum");
            assertArrayEquals(reference, merged.toMatrix(), "trial " + trial);
        }

        // The test has teeth: plain double accumulation in the two orders differs.
        assertFalse(Arrays.equals(naive(x, w, n, blocks), naive(x, w, n, reversed(blocks))),
                "naive summation should depend on the order");
    }

    private static void add(HessianSum sum, float[] x, float[] w, int[] block, int n) {
        sum.add(Arrays.copyOfRange(x, block[0] * n, (block[0] + block[1]) * n), block[1],
                Arrays.copyOfRange(w, block[0], block[0] + block[1]));
    }

    private static List<int[]> reversed(List<int[]> blocks) {
        List<int[]> r = new ArrayList<>(blocks);
        Collections.reverse(r);
        return r;
    }

    private static double[] naive(float[] x, float[] w, int n, List<int[]> blocks) {
        double[] h = new double[n * n];
        for (int[] block : blocks) {
            for (int t = block[0]; t < block[0] + block[1]; t++) {
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        h[i * n + j] += (double) w[t] * x[t * n + i] * x[t * n + j];
                    }
                }
            }
        }
        return h;
    }

    @Test
    void integerWeightsEqualRepeatedTokens() {
        int n = 17;
        int tokens = 50;
        float[] x = wideRange(6, tokens * n);
        float[] w = new float[tokens];
        List<Float> repeated = new ArrayList<>();
        Random rnd = new Random(7);
        for (int t = 0; t < tokens; t++) {
            w[t] = rnd.nextInt(4);
            for (int k = 0; k < w[t]; k++) {
                for (int i = 0; i < n; i++) {
                    repeated.add(x[t * n + i]);
                }
            }
        }
        float[] xr = new float[repeated.size()];
        for (int k = 0; k < xr.length; k++) {
            xr[k] = repeated.get(k);
        }
        HessianSum weighted = new HessianSum(n);
        weighted.add(x, tokens, w);
        HessianSum copies = new HessianSum(n);
        copies.add(xr, xr.length / n, null);
        assertEquals(copies.weightSum(), weighted.weightSum());
        assertEquals(tokens, weighted.tokens());
        assertEquals(xr.length / n, copies.tokens());
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                assertEquals(copies.sum(i, j), weighted.sum(i, j), "entry " + i + "," + j);
            }
        }
        assertArrayEquals(copies.toMatrix(), weighted.toMatrix());
    }

    @Test
    void symmetricAndUnchangedByMergingWithItself() {
        int n = 31;
        int tokens = 80;
        HessianSum sum = new HessianSum(n);
        sum.add(wideRange(8, tokens * n), tokens, weights(9, tokens));
        double[] h = sum.toMatrix();
        for (int i = 0; i < n; i++) {
            assertTrue(h[i * n + i] >= 0, "diagonal " + i);
            for (int j = 0; j < n; j++) {
                assertEquals(h[i * n + j], h[j * n + i], "(" + i + "," + j + ")");
                assertEquals(sum.sum(i, j), sum.sum(j, i));
            }
        }
        ExactSum before = sum.sum(3, 7);
        sum.plus(sum);
        assertEquals(before.plus(before), sum.sum(3, 7), "doubled");
        assertArrayEquals(h, sum.toMatrix(), "twice the sum over twice the weight");
    }

    @Test
    void refusesInvalidInput() {
        HessianSum sum = new HessianSum(2);
        assertThrows(IllegalArgumentException.class, () -> sum.add(new float[] {1f, Float.NaN}, 1, null));
        assertThrows(IllegalArgumentException.class, () -> sum.add(new float[] {1f, 2f}, 1, new float[] {-1f}));
        assertThrows(IllegalArgumentException.class, () -> sum.add(new float[] {1f, 2f, 3f}, 1, null));
        assertThrows(IllegalStateException.class, sum::toMatrix);
    }
}
