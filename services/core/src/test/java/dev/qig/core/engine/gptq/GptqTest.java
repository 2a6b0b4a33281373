package dev.qig.core.engine.gptq;

import static dev.qig.core.engine.QuantTestSupport.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qig.core.engine.GroupQuantizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GPTQ against a direct transcription of the paper's Algorithm 1 (no lazy blocks, the reference's
 * three-step inverse factor), against round-to-nearest, and against the output error it claims to
 * minimise.
 */
class GptqTest {

    // ------------------------------------------------------------------ against Algorithm 1

    static Stream<Arguments> smallLayers() {
        List<Arguments> cases = new ArrayList<>();
        for (int bits : new int[] {3, 4}) {
            for (int groupSize : new int[] {32, 0}) {
                for (boolean symmetric : new boolean[] {false, true}) {
                    for (boolean actOrder : new boolean[] {false, true}) {
                        cases.add(Arguments.of(16, 64, bits, groupSize, symmetric, actOrder, 0));
                    }
                }
            }
        }
        // Wider than one lazy block (tiles, remainder rows), groups that straddle blocks, dead columns.
        cases.add(Arguments.of(18, 320, 3, 32, false, false, 0));
        cases.add(Arguments.of(18, 320, 4, 80, false, true, 0));
        cases.add(Arguments.of(18, 320, 3, 160, true, false, 0));
        cases.add(Arguments.of(18, 320, 4, 64, true, true, 0));
        cases.add(Arguments.of(18, 320, 3, 0, false, true, 0));
        cases.add(Arguments.of(18, 320, 3, 32, false, true, 5));
        cases.add(Arguments.of(16, 64, 4, 0, true, false, 3));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}x{1} W{2} g{3} sym={4} actOrder={5} dead={6}")
    @MethodSource("smallLayers")
    void matchesUnblockedAlgorithmOne(int rows, int columns, int bits, int groupSize, boolean symmetric,
            boolean actOrder, int deadColumns) {
        long seed = 31L * columns + 7L * bits + groupSize + (symmetric ? 1000 : 0) + (actOrder ? 2000 : 0);
        float[] x = correlatedInputs(seed, 2 * columns, columns);
        Random rnd = new Random(seed);
        for (int d = 0; d < deadColumns; d++) {
            int column = rnd.nextInt(columns);
            for (int t = 0; t < 2 * columns; t++) {
                x[t * columns + column] = 0f;
            }
        }
        double[] h = hessian(x, 2 * columns, columns);
        float[] w = gaussian(seed + 1, rows * columns, 0.05);
        GroupQuantizer quantizer = new GroupQuantizer(bits, groupSize, symmetric);

        Gptq.Result got = new Gptq(quantizer, 0.01, actOrder).quantize(w, rows, columns, h);
        Direct want = Direct.run(w, rows, columns, h, bits, quantizer.effectiveGroupSize(columns), symmetric, 0.01, actOrder);

        assertEquals(quantizer.effectiveGroupSize(columns), got.groupSize());
        assertArrayEquals(want.groupIndex, got.groupIndex(), "group index");
        assertArrayEquals(want.codes, got.codes(), "codes");
        assertArrayEquals(want.scales, got.scales(), "scales");
        if (symmetric) {
            assertNull(got.zeros());
        } else {
            assertArrayEquals(want.zeros, got.zeros(), "zeros");
        }
        for (int k = 0; k < w.length; k++) {
            assertEquals(want.dequantized[k], got.dequantized()[k], 1e-6, "dequantized " + k);
        }
        assertEquals(want.error, got.error(), 1e-9 * want.error, "loss");
        for (int column = 0; column < columns; column++) {
            if (h[column * columns + column] == 0) {
                for (int r = 0; r < rows; r++) {
                    assertEquals(0f, got.dequantized()[r * columns + column], "dead column " + column);
                }
            }
        }
        // Codes, scales and zeros dequantize to the returned weight.
        for (int r = 0; r < rows; r++) {
            for (int column = 0; column < columns; column++) {
                int g = r * got.groups() + got.groupIndex()[column];
                int zero = symmetric ? 0 : got.zeros()[g];
                assertEquals((got.codes()[r * columns + column] - zero) * got.scales()[g],
                        got.dequantized()[r * columns + column]);
            }
        }
    }

    /**
     * Algorithm 1 of the paper, column by column: quantize column j with its group's parameters
     * (fitted when the group's first column is reached), {@code e = (w_j - q_j) / U[j][j]},
     * {@code W[:, j+1:] -= e ⊗ U[j, j+1:]}, with U the upper Cholesky factor of the inverse of the
     * damped Hessian computed the reference's way.
     */
    record Direct(int[] codes, float[] scales, int[] zeros, int[] groupIndex, float[] dequantized, double error) {

        static Direct run(float[] weight, int rows, int n, double[] hessian, int bits, int groupSize,
                boolean symmetric, double percdamp, boolean actOrder) {
            double[] diag = new double[n];
            boolean[] dead = new boolean[n];
            for (int i = 0; i < n; i++) {
                dead[i] = hessian[i * n + i] == 0;
                diag[i] = dead[i] ? 1 : hessian[i * n + i];
            }
            Integer[] boxed = new Integer[n];
            for (int i = 0; i < n; i++) {
                boxed[i] = i;
            }
            if (actOrder) {
                Arrays.sort(boxed, (a, b) -> diag[a] != diag[b] ? Double.compare(diag[b], diag[a]) : Integer.compare(a, b));
            }
            int[] perm = Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
            double mean = 0;
            for (double d : diag) {
                mean += d;
            }
            double damp = percdamp * mean / n;
            double[][] hp = new double[n][n];
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    hp[a][b] = a == b ? diag[perm[a]] + damp : hessian[perm[a] * n + perm[b]];
                }
            }
            double[][] u = referenceInverseFactor(hp);

            double[][] w = new double[rows][n];
            for (int r = 0; r < rows; r++) {
                for (int a = 0; a < n; a++) {
                    w[r][a] = dead[perm[a]] ? 0 : weight[r * n + perm[a]];
                }
            }
            int groups = n / groupSize;
            int qmax = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
            int qmin = symmetric ? -qmax - 1 : 0;
            float[] scales = new float[rows * groups];
            int[] zeros = new int[rows * groups];
            int[] codes = new int[rows * n];
            float[] dequantized = new float[rows * n];
            int[] groupIndex = new int[n];
            double error = 0;
            for (int j = 0; j < n; j++) {
                int g = j / groupSize;
                groupIndex[perm[j]] = g;
                for (int r = 0; r < rows; r++) {
                    if (j % groupSize == 0) {
                        fit(w[r], j, groupSize, symmetric, qmax, scales, zeros, r * groups + g);
                    }
                    float scale = scales[r * groups + g];
                    int zero = symmetric ? 0 : zeros[r * groups + g];
                    double rounded = Math.rint((float) w[r][j] / scale) + zero;
                    int code = (int) Math.max(qmin, Math.min(qmax, rounded));
                    float q = (code - zero) * scale;
                    codes[r * n + perm[j]] = code;
                    dequantized[r * n + perm[j]] = q;
                    double e = (w[r][j] - q) / u[j][j];
                    error += e * e;
                    for (int m = j + 1; m < n; m++) {
                        w[r][m] -= e * u[j][m];
                    }
                }
            }
            return new Direct(codes, scales, zeros, groupIndex, dequantized, error);
        }

        /** GroupQuantizer's float32 min-max formulas on the float32 rounding of the current weights. */
        private static void fit(double[] row, int j, int groupSize, boolean symmetric, int qmax,
                float[] scales, int[] zeros, int g) {
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            float absMax = 0f;
            for (int k = j; k < j + groupSize; k++) {
                float v = (float) row[k];
                min = Math.min(min, v);
                max = Math.max(max, v);
                absMax = Math.max(absMax, Math.abs(v));
            }
            if (symmetric) {
                scales[g] = Math.max(absMax, 1e-5f) / qmax;
            } else {
                float scale = Math.max(max - min, 1e-5f) / qmax;
                scales[g] = scale;
                zeros[g] = (int) Math.max(0, Math.min(qmax, -Math.rint(min / scale)));
            }
        }
    }

    /** chol(H) lower, then H⁻¹ = L⁻ᵀ L⁻¹ (cholesky_inverse), then its upper Cholesky factor: the reference's route. */
    static double[][] referenceInverseFactor(double[][] h) {
        int n = h.length;
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = h[i][j];
                for (int k = 0; k < j; k++) {
                    s -= l[i][k] * l[j][k];
                }
                l[i][j] = i == j ? Math.sqrt(s) : s / l[j][j];
            }
        }
        double[][] linv = new double[n][n];
        for (int col = 0; col < n; col++) {
            for (int i = col; i < n; i++) {
                double s = i == col ? 1 : 0;
                for (int k = col; k < i; k++) {
                    s -= l[i][k] * linv[k][col];
                }
                linv[i][col] = s / l[i][i];
            }
        }
        double[][] inverse = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = Math.max(i, j); k < n; k++) {
                    s += linv[k][i] * linv[k][j];
                }
                inverse[i][j] = s;
            }
        }
        double[][] u = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = inverse[i][j];
                for (int k = 0; k < i; k++) {
                    s -= u[k][i] * u[k][j];
                }
                u[i][j] = i == j ? Math.sqrt(s) : s / u[i][i];
            }
        }
        return u;
    }

    @Test
    void inverseFactorMatchesTheReferenceRoute() {
        int n = 200; // several panels of 64 and a partial one
        double[] h = hessian(correlatedInputs(5, 300, n), 300, n);
        for (int i = 0; i < n; i++) {
            h[i * n + i] += 1e-3;
        }
        double[][] square = new double[n][n];
        for (int i = 0; i < n; i++) {
            square[i] = Arrays.copyOfRange(h, i * n, i * n + n);
        }
        double[][] want = referenceInverseFactor(square);
        double[] u = h.clone();
        InverseCholesky.replaceByUpperFactorOfInverse(u, n);
        double scale = 0;
        for (double[] row : want) {
            for (double v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertEquals(want[i][j], u[i * n + j], 1e-9 * scale, "U[" + i + "][" + j + "]");
            }
        }
        // U H Uᵀ = I.
        for (int i = 0; i < n; i += 7) {
            for (int j = 0; j < n; j += 5) {
                double s = 0;
                for (int a = i; a < n; a++) {
                    for (int b = j; b < n; b++) {
                        s += u[i * n + a] * h[a * n + b] * u[j * n + b];
                    }
                }
                assertEquals(i == j ? 1.0 : 0.0, s, 1e-8, "(U H Uᵀ)[" + i + "][" + j + "]");
            }
        }
    }

    @Test
    void lazyBlocksEndWhereAGroupWouldStraddleThem() {
        assertEquals(128, Gptq.blockEnd(0, 320, 32));
        assertEquals(96, Gptq.blockEnd(0, 320, 48));
        assertEquals(192, Gptq.blockEnd(96, 320, 48));
        assertEquals(128, Gptq.blockEnd(0, 320, 160));
        assertEquals(160, Gptq.blockEnd(128, 320, 160));
        assertEquals(320, Gptq.blockEnd(256, 320, 320));
    }

    // ------------------------------------------------------------------ against round-to-nearest

    /** With nothing to compensate (diagonal H, no act-order) GPTQ is GroupQuantizer, bit for bit. */
    @Test
    void diagonalHessianGivesRoundToNearest() {
        int rows = 12;
        int columns = 96;
        double[] h = new double[columns * columns];
        Random rnd = new Random(3);
        for (int i = 0; i < columns; i++) {
            h[i * columns + i] = 0.1 + rnd.nextDouble();
        }
        float[] w = gaussian(4, rows * columns, 0.05);
        for (GroupQuantizer quantizer : new GroupQuantizer[] {
            new GroupQuantizer(3, 32, false), new GroupQuantizer(4, 0, true), new GroupQuantizer(2, 48, false)}) {
            Gptq.Result got = new Gptq(quantizer).quantize(w, rows, columns, h);
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray array = m.create(w, new Shape(rows, columns));
                GroupQuantizer.Codes want = quantizer.codes(array);
                assertArrayEquals(want.values(), got.codes(), quantizer + " codes");
                assertArrayEquals(want.scales(), got.scales(), quantizer + " scales");
                assertArrayEquals(want.zeros(), got.zeros(), quantizer + " zeros");
                float[] rtn = quantizer.apply(array).toFloatArray();
                for (int k = 0; k < rtn.length; k++) {
                    // Equal values; GroupQuantizer keeps rint's -0.0 where an integer code gives 0.0.
                    assertTrue(rtn[k] == got.dequantized()[k], quantizer + " weight " + k);
                }
            }
        }
    }

    /** GPTQ's point: on correlated inputs its output error is well below round-to-nearest's on the same calibration X. */
    @Test
    void beatsRoundToNearestOnCorrelatedInputs() {
        int rows = 32;
        int columns = 128;
        int tokens = 512;
        float[] x = correlatedInputs(11, tokens, columns);
        double[] h = hessian(x, tokens, columns);
        float[] w = gaussian(12, rows * columns, 0.05);
        for (GroupQuantizer quantizer : new GroupQuantizer[] {
            new GroupQuantizer(3, 32, false), new GroupQuantizer(4, 0, true), new GroupQuantizer(2, 64, false)}) {
            float[] rtn;
            try (NDManager m = NDManager.newBaseManager()) {
                rtn = quantizer.apply(m.create(w, new Shape(rows, columns))).toFloatArray();
            }
            double rtnError = outputError(x, tokens, w, rtn, rows, columns);
            for (boolean actOrder : new boolean[] {false, true}) {
                Gptq.Result result = new Gptq(quantizer, 0.01, actOrder).quantize(w, rows, columns, h);
                double gptqError = outputError(x, tokens, w, result.dequantized(), rows, columns);
                assertTrue(gptqError < 0.5 * rtnError, quantizer + " actOrder=" + actOrder
                        + ": GPTQ output error " + gptqError + " vs RTN " + rtnError);
            }
        }
    }

    /**
     * H built from an X of rank >= in reproduces the output error: without damping the reported
     * loss is ||X Wᵀ - X Ŵᵀ||² / tokens; with damping it is Σ_rows δ (H + damp I) δᵀ.
     */
    @Test
    void lossIsTheOutputErrorOnTheCalibrationInputs() {
        int rows = 16;
        int columns = 96;
        int tokens = 400;
        float[] x = correlatedInputs(21, tokens, columns);
        double[] h = hessian(x, tokens, columns);
        float[] w = gaussian(22, rows * columns, 0.05);
        GroupQuantizer quantizer = new GroupQuantizer(3, 32, false);
        for (boolean actOrder : new boolean[] {false, true}) {
            Gptq.Result undamped = new Gptq(quantizer, 0, actOrder).quantize(w, rows, columns, h);
            double outputError = outputError(x, tokens, w, undamped.dequantized(), rows, columns) / tokens;
            assertEquals(outputError, undamped.error(), 1e-8 * outputError, "undamped, actOrder=" + actOrder);

            Gptq.Result damped = new Gptq(quantizer, 0.01, actOrder).quantize(w, rows, columns, h);
            double meanDiag = 0;
            for (int i = 0; i < columns; i++) {
                meanDiag += h[i * columns + i];
            }
            double damp = 0.01 * meanDiag / columns;
            double quadratic = 0;
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < columns; i++) {
                    double di = w[r * columns + i] - damped.dequantized()[r * columns + i];
                    for (int j = 0; j < columns; j++) {
                        double dj = w[r * columns + j] - damped.dequantized()[r * columns + j];
                        quadratic += di * (h[i * columns + j] + (i == j ? damp : 0)) * dj;
                    }
                }
            }
            assertEquals(quadratic, damped.error(), 1e-8 * quadratic, "damped, actOrder=" + actOrder);
        }
    }

    // ------------------------------------------------------------------ contract

    @Test
    void resultDoesNotDependOnTheThreadCount() throws Exception {
        int rows = 40;
        int columns = 320;
        double[] h = hessian(correlatedInputs(31, 400, columns), 400, columns);
        float[] w = gaussian(32, rows * columns, 0.05);
        Gptq gptq = new Gptq(new GroupQuantizer(3, 64, false), 0.01, true);
        Gptq.Result one = new ForkJoinPool(1).submit(() -> gptq.quantize(w, rows, columns, h)).get();
        Gptq.Result four = new ForkJoinPool(4).submit(() -> gptq.quantize(w, rows, columns, h)).get();
        assertArrayEquals(one.codes(), four.codes());
        assertArrayEquals(one.dequantized(), four.dequantized());
        assertEquals(one.error(), four.error());
    }

    @Test
    void singularHessianNeedsDamping() {
        int columns = 64;
        int tokens = 32; // rank 32 < 64: singular, yet no column is dead
        double[] h = hessian(correlatedInputs(41, tokens, columns), tokens, columns);
        float[] w = gaussian(42, 8 * columns, 0.05);
        GroupQuantizer quantizer = new GroupQuantizer(4, 32, false);
        assertThrows(ArithmeticException.class, () -> new Gptq(quantizer, 0, false).quantize(w, 8, columns, h));
        assertTrue(Double.isFinite(new Gptq(quantizer).quantize(w, 8, columns, h).error()));
    }

    // ------------------------------------------------------------------ helpers


    /** Tokens whose features follow an AR(1) chain (neighbours correlate at 0.9) with per-feature scales. */
    static float[] correlatedInputs(long seed, int tokens, int columns) {
        Random rnd = new Random(seed);
        double[] featureScale = new double[columns];
        for (int k = 0; k < columns; k++) {
            featureScale[k] = Math.exp(0.7 * rnd.nextGaussian());
        }
        float[] x = new float[tokens * columns];
        for (int t = 0; t < tokens; t++) {
            double chain = rnd.nextGaussian();
            for (int k = 0; k < columns; k++) {
                chain = 0.9 * chain + Math.sqrt(1 - 0.81) * rnd.nextGaussian();
                x[t * columns + k] = (float) (featureScale[k] * chain);
            }
        }
        return x;
    }

    static double[] hessian(float[] x, int tokens, int columns) {
        HessianSum sum = new HessianSum(columns);
        sum.add(x, tokens, null);
        return sum.toMatrix();
    }

    /** ||X Wᵀ - X Ŵᵀ||² over all tokens and output rows, in double. */
    static double outputError(float[] x, int tokens, float[] w, float[] quantized, int rows, int columns) {
        double total = 0;
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double d = 0;
                for (int k = 0; k < columns; k++) {
                    d += (double) x[t * columns + k] * ((double) w[r * columns + k] - quantized[r * columns + k]);
                }
                total += d * d;
            }
        }
        return total;
    }
}
