package dev.qig.core.engine;

import dev.qig.quant.QuantScheme;
import static dev.qig.core.engine.QuantTestSupport.assertClose;
import static dev.qig.core.engine.QuantTestSupport.assertRelClose;
import static dev.qig.core.engine.QuantTestSupport.floats;
import static dev.qig.core.engine.QuantTestSupport.matrix;
import static dev.qig.core.engine.QuantTestSupport.randomMatrix;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Weight quantizers of qig-method.md section 1, checked against hand-computed numbers and properties. */
class GroupQuantizerTest {

    // ---------------------------------------------------------------- hand-computed, asymmetric

    /**
     * W3, groups of 4, on a 2 x 8 matrix; every number below is worked out by hand.
     * <pre>
     * row 0, group 0: [-1, 2.5, 0.3, 0.8]   min -1, max 2.5, scale 3.5/7 = 0.5, zero = -rint(-2) = 2
     *                 w/s = [-2, 5, 0.6, 1.6] -> rint [-2, 5, 1, 2] -> q = [0, 7, 3, 4] -> w' = [-1, 2.5, 0.5, 1]
     * row 0, group 1: [0.5, 4, 2, 3]        min 0.5, scale 0.5, -rint(1) = -1 -> zero clamped up to 0
     *                 w/s = [1, 8, 4, 6] -> q = [1, 7 (clamped from 8), 4, 6] -> w' = [0.5, 3.5, 2, 3]
     * row 1, group 0: [-0.75, 2.75, 0.25, 1.25]  min/s = -1.5 -> rint = -2 (half to even) -> zero = 2
     *                 w/s = [-1.5, 5.5, 0.5, 2.5] -> rint [-2, 6, 0, 2] -> q = [0, 7 (from 8), 2, 4]
     *                 -> w' = [-1, 2.5, 0, 1]      (Math.round would give zero 1 and w' [-0.75 ...])
     * row 1, group 1: [-4, -0.5, -2, -3]    min -4, scale 0.5, -rint(-8) = 8 -> zero clamped down to 7
     *                 w/s + 7 = [-1, 6, 3, 1] -> q = [0, 6, 3, 1] -> w' = [-3.5, -0.5, -2, -3]
     * </pre>
     */
    @Test
    void w3AsymmetricGroupsOfFourHandComputed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = matrix(m, new float[][] {
                {-1.0f, 2.5f, 0.3f, 0.8f, 0.5f, 4.0f, 2.0f, 3.0f},
                {-0.75f, 2.75f, 0.25f, 1.25f, -4.0f, -0.5f, -2.0f, -3.0f}});
            NDArray q = new GroupQuantizer(3, 4, false).apply(w);
            assertEquals(new Shape(2, 8), q.getShape());
            float[] expected = {
                -1.0f, 2.5f, 0.5f, 1.0f, 0.5f, 3.5f, 2.0f, 3.0f,
                -1.0f, 2.5f, 0.0f, 1.0f, -3.5f, -0.5f, -2.0f, -3.0f};
            assertClose(expected, floats(q), 1e-6, "W3 g4 asym");
        }
    }

    /** A range below 1e-5 is floored: scale = 1e-5/7, so 1e-6 lands on q = rint(0.7) = 1 -> 1e-5/7, not 1e-6. */
    @Test
    void asymmetricScaleIsFlooredAtOneEMinusFive() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = matrix(m, new float[][] {{0f, 1e-6f, 0f, 0f}, {0f, 0f, 0f, 0f}});
            float[] q = floats(new GroupQuantizer(3, 4, false).apply(w));
            float step = 1e-5f / 7f;
            assertClose(new float[] {0f, step, 0f, 0f, 0f, 0f, 0f, 0f}, q, 1e-12, "floored scale");
            for (float v : q) {
                assertFalse(Float.isNaN(v) || Float.isInfinite(v));
            }
        }
    }

    /**
     * W3 g128 (the paper's W3A16 quantizer) on a 1 x 256 row where only a few values differ.
     * Group 0: zeros except -1, 2.5, 0.3 -> min -1, max 2.5, scale 0.5, zero 2: [-1, 2.5, 0.5, 0 ...].
     * Group 1: ones except 0.5 and 4 -> min 0.5, scale 0.5, zero clamp to 0: 4 -> 3.5, 0.5 -> 0.5, 1 -> 1.
     */
    @Test
    void w3g128HandComputedOnOneRow() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] row = new float[256];
            row[0] = -1.0f;
            row[1] = 2.5f;
            row[2] = 0.3f;
            Arrays.fill(row, 128, 256, 1.0f);
            row[128] = 0.5f;
            row[200] = 4.0f;
            float[] expected = new float[256];
            expected[0] = -1.0f;
            expected[1] = 2.5f;
            expected[2] = 0.5f;
            Arrays.fill(expected, 128, 256, 1.0f);
            expected[128] = 0.5f;
            expected[200] = 3.5f;
            GroupQuantizer q = GroupQuantizer.of(QuantScheme.W3A16);
            assertEquals(128, q.effectiveGroupSize(256));
            float[] actual = floats(q.apply(matrix(m, new float[][] {row})));
            assertClose(expected, actual, 1e-6, "W3 g128");
        }
    }

    // ---------------------------------------------------------------- hand-computed, symmetric

    /**
     * W4 symmetric per row (W4A8 weights), scale = absmax / 7.
     * <pre>
     * row 0: absmax 3.5 -> scale 0.5; w/s = [7, -2, 0.6, -1.48, 0, 1, 0.2, -0.9] -> [7, -2, 1, -1, 0, 1, 0, -1]
     * row 1: absmax 7 (a -7) -> scale 1; [-7, 1.5, 2, 0.2, 6.6, -3.3, 0, 0.49] -> [-7, 2, 2, 0, 7, -3, 0, 0]
     * </pre>
     * The whole row is one group (groupSize 0): the 3.5 in column 0 sets the scale of column 7 too.
     */
    @Test
    void w4SymmetricPerRowHandComputed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = matrix(m, new float[][] {
                {3.5f, -1.0f, 0.3f, -0.74f, 0.0f, 0.5f, 0.1f, -0.45f},
                {-7.0f, 1.5f, 2.0f, 0.2f, 6.6f, -3.3f, 0.0f, 0.49f}});
            GroupQuantizer gq = new GroupQuantizer(4, 0, true);
            assertEquals(8, gq.effectiveGroupSize(8));
            float[] q = floats(gq.apply(w));
            float[] expected = {
                3.5f, -1.0f, 0.5f, -0.5f, 0.0f, 0.5f, 0.0f, -0.5f,
                -7.0f, 2.0f, 2.0f, 0.0f, 7.0f, -3.0f, 0.0f, 0.0f};
            assertClose(expected, q, 1e-6, "W4 per-row sym");
        }
    }

    /** Symmetric codes stay in [-8, 7]; with absmax/7 scaling every row's absmax lands on exactly +-7. */
    @Test
    void w4SymmetricCodesAreIntegersInRangeAndAbsmaxMapsToSeven() {
        try (NDManager m = NDManager.newBaseManager()) {
            int rows = 16;
            int cols = 64;
            NDArray w = randomMatrix(m, 11, rows, cols);
            float[] in = w.toFloatArray();
            float[] out = floats(new GroupQuantizer(4, 0, true).apply(w));
            for (int r = 0; r < rows; r++) {
                float absmax = 0f;
                for (int c = 0; c < cols; c++) {
                    absmax = Math.max(absmax, Math.abs(in[r * cols + c]));
                }
                float scale = Math.max(absmax, 1e-5f) / 7f;
                int minCode = Integer.MAX_VALUE;
                int maxCode = Integer.MIN_VALUE;
                for (int c = 0; c < cols; c++) {
                    double code = out[r * cols + c] / scale;
                    long k = Math.round(code);
                    assertEquals(k, code, 1e-4, "row " + r + " col " + c + " is off the grid");
                    assertTrue(k >= -8 && k <= 7, "code " + k + " outside [-8, 7]");
                    // Nearest code of the original value, half to even.
                    assertEquals(Math.max(-8, Math.min(7, Math.rint(in[r * cols + c] / scale))), k, 0.0);
                    minCode = (int) Math.min(minCode, k);
                    maxCode = (int) Math.max(maxCode, k);
                }
                assertEquals(7, Math.max(-minCode, maxCode), "row " + r + ": absmax must map to +-7");
            }
        }
    }

    // ---------------------------------------------------------------- round half to even

    /** Symmetric W4 with absmax 7 -> scale 1, so every other value sits exactly on a half step. */
    @Test
    void symmetricRoundsHalfToEvenLikeMathRint() {
        float[] ties = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, -3.5f, 4.5f, 5.5f, 6.5f, -6.5f};
        float[] row = new float[ties.length + 2];
        row[0] = 7.0f;
        row[1] = -7.0f;
        System.arraycopy(ties, 0, row, 2, ties.length);
        try (NDManager m = NDManager.newBaseManager()) {
            float[] q = floats(new GroupQuantizer(4, 0, true).apply(matrix(m, new float[][] {row})));
            int differsFromRound = 0;
            for (int i = 0; i < ties.length; i++) {
                float x = ties[i];
                assertEquals(Math.rint(x), q[i + 2], 0.0, "tie " + x + " must round half to even");
                if (Math.rint(x) != Math.round(x)) {
                    differsFromRound++;
                    assertNotEquals((double) Math.round(x), (double) q[i + 2], "tie " + x + " rounded half up");
                }
            }
            assertTrue(differsFromRound >= 5, "the test needs ties where rint and round disagree");
            assertEquals(0f, q[2], 0f);
            assertEquals(2f, q[3], 0f);
            assertEquals(2f, q[4], 0f);
            assertEquals(-2f, q[7], 0f);
        }
    }

    /**
     * Asymmetric ties: range 7 -> scale 1; min -1.5 puts the zero point itself on a tie
     * (-rint(-1.5) = 2, whereas -Math.round(-1.5) = 1), and every w/s is on a half step.
     */
    @Test
    void asymmetricRoundsHalfToEvenInCodesAndZeroPoint() {
        try (NDManager m = NDManager.newBaseManager()) {
            // row 0: min -1.5, max 5.5 -> scale 1, zero = -rint(-1.5) = 2.
            //   w/s = [-1.5, 5.5, 0.5, 2.5, -0.5, 1.5, 3.5, 4.5] -> rint [-2, 6, 0, 2, -0, 2, 4, 4]
            //   + 2 = [0, 8->7, 2, 4, 2, 4, 6, 6] -> -2 = [-2, 5, 0, 2, 0, 2, 4, 4]
            NDArray w = matrix(m, new float[][] {{-1.5f, 5.5f, 0.5f, 2.5f, -0.5f, 1.5f, 3.5f, 4.5f}});
            float[] q = floats(new GroupQuantizer(3, 0, false).apply(w));
            assertClose(new float[] {-2f, 5f, 0f, 2f, 0f, 2f, 4f, 4f}, q, 0.0, "asym ties");
        }
    }

    // ---------------------------------------------------------------- properties

    /** Q(Q(w)) == Q(w): the grid of a quantized group is reproduced by its own min-max / absmax. */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void weightQuantizerIsIdempotent(QuantScheme scheme) {
        try (NDManager m = NDManager.newBaseManager()) {
            for (long seed = 1; seed <= 3; seed++) {
                NDArray w = randomMatrix(m, 100 * seed + scheme.ordinal(), 16, 256);
                GroupQuantizer gq = GroupQuantizer.of(scheme);
                NDArray once = gq.apply(w);
                NDArray twice = gq.apply(once);
                float[] a = floats(once);
                assertFalse(Arrays.equals(w.toFloatArray(), a), scheme + ": quantization changed nothing");
                assertRelClose(a, floats(twice), 1e-6, scheme + " seed " + seed + ": Q(Q(w)) != Q(w)");
            }
        }
    }

    /** W3 g128 on random 16 x 256: every group has at most 8 levels, all on the min + k * scale grid. */
    @Test
    void w3OutputsLieOnTheGrid() {
        int rows = 16;
        int cols = 256;
        int g = 128;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = randomMatrix(m, 7, rows, cols);
            float[] in = w.toFloatArray();
            float[] out = floats(GroupQuantizer.of(QuantScheme.W3A16).apply(w));
            for (int r = 0; r < rows; r++) {
                for (int start = 0; start < cols; start += g) {
                    double min = Double.MAX_VALUE;
                    double max = -Double.MAX_VALUE;
                    double outMin = Double.MAX_VALUE;
                    Set<Float> levels = new HashSet<>();
                    for (int c = start; c < start + g; c++) {
                        min = Math.min(min, in[r * cols + c]);
                        max = Math.max(max, in[r * cols + c]);
                        outMin = Math.min(outMin, out[r * cols + c]);
                        levels.add(out[r * cols + c]);
                    }
                    String where = "row " + r + " group " + start / g;
                    assertTrue(levels.size() <= 8, where + " has " + levels.size() + " levels");
                    assertTrue(levels.size() >= 5, where + " uses only " + levels.size() + " levels");
                    double scale = Math.max(max - min, 1e-5) / 7;
                    for (int c = start; c < start + g; c++) {
                        double k = (out[r * cols + c] - outMin) / scale;
                        assertEquals(Math.rint(k), k, 1e-4, where + " col " + c + " off the grid");
                        assertTrue(Math.rint(k) >= 0 && Math.rint(k) <= 7, where + " code " + k);
                        // Round to nearest: the error is at most half a step.
                        assertTrue(Math.abs(out[r * cols + c] - in[r * cols + c]) <= 0.5 * scale * (1 + 1e-5),
                                where + " col " + c + " error larger than half a step");
                    }
                }
            }
        }
    }

    /** Q(c w) == c Q(w) for c > 0 (c a power of two, so the scaling itself is exact). */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void weightQuantizerIsScaleEquivariant(QuantScheme scheme) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = randomMatrix(m, 31 + scheme.ordinal(), 16, 256);
            GroupQuantizer gq = GroupQuantizer.of(scheme);
            float[] qw = floats(gq.apply(w));
            for (float c : new float[] {2.0f, 0.5f, 8.0f}) {
                float[] expected = qw.clone();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] *= c;
                }
                assertRelClose(expected, floats(gq.apply(w.mul(c))), 1e-6, scheme + " c=" + c);
            }
        }
    }

    /** The engine result equals a plain-Java float transcription of the section 1 formulas. */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void matchesScalarReference(QuantScheme scheme) {
        int rows = 8;
        int cols = 384;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = randomMatrix(m, 57 + scheme.ordinal(), rows, cols);
            float[] in = w.toFloatArray();
            float[] actual = floats(GroupQuantizer.of(scheme).apply(w));
            int g = scheme.groupSize() > 0 && cols % scheme.groupSize() == 0 ? scheme.groupSize() : cols;
            float[] expected = reference(in, rows, cols, g, scheme.weightBits(), scheme.symmetric());
            assertClose(expected, actual, 1e-7, scheme + " vs scalar reference");
        }
    }

    // ---------------------------------------------------------------- group-size fallback

    @Test
    void groupSizeThatDoesNotDivideTheWidthFallsBackToPerRow() {
        GroupQuantizer w3 = GroupQuantizer.of(QuantScheme.W3A16);
        assertEquals(96, w3.effectiveGroupSize(96));
        assertEquals(192, w3.effectiveGroupSize(192));
        assertEquals(128, w3.effectiveGroupSize(256));
        assertEquals(128, w3.effectiveGroupSize(128));
        assertEquals(64, new GroupQuantizer(3, 0, false).effectiveGroupSize(64));
        try (NDManager m = NDManager.newBaseManager()) {
            for (int width : new int[] {96, 192}) {
                NDArray w = randomMatrix(m, width, 6, width);
                float[] fallback = floats(w3.apply(w));
                float[] perRow = floats(new GroupQuantizer(3, width, false).apply(w));
                assertArrayEquals(perRow, fallback, "width " + width);
                // And it really is one group per row: at most 8 levels in each whole row.
                for (int r = 0; r < 6; r++) {
                    Set<Float> levels = new HashSet<>();
                    for (int c = 0; c < width; c++) {
                        levels.add(fallback[r * width + c]);
                    }
                    assertTrue(levels.size() <= 8, "width " + width + " row " + r + ": " + levels.size());
                }
            }
            // A width of 192 is not quantized in groups of 64 or 128 either: different from g64.
            NDArray w = randomMatrix(m, 192, 6, 192);
            assertFalse(Arrays.equals(floats(new GroupQuantizer(3, 64, false).apply(w)), floats(w3.apply(w))));
        }
    }

    @Test
    void rejectsBitsOutsideTwoToSixteen() {
        assertThrows(IllegalArgumentException.class, () -> new GroupQuantizer(1, 128, false));
        assertThrows(IllegalArgumentException.class, () -> new GroupQuantizer(17, 128, false));
        assertEquals("W3 g128 asym", GroupQuantizer.of(QuantScheme.W3A16).toString());
        assertEquals("W4 per-row sym", new GroupQuantizer(4, 0, true).toString());
    }

    // ---------------------------------------------------------------- precision

    /** Output dtype == input dtype; the arithmetic is fp32 (Q(w16) == Q(fp32(w16)) cast back, same for fp64). */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void resultKeepsInputDtypeAndComputesInFp32(QuantScheme scheme) {
        try (NDManager m = NDManager.newBaseManager()) {
            GroupQuantizer gq = GroupQuantizer.of(scheme);
            NDArray w32 = randomMatrix(m, 77, 8, 256);

            NDArray q32 = gq.apply(w32);
            assertEquals(DataType.FLOAT32, q32.getDataType());

            NDArray w16 = w32.toType(DataType.FLOAT16, false);
            NDArray q16 = gq.apply(w16);
            assertEquals(DataType.FLOAT16, q16.getDataType());
            NDArray via32 = gq.apply(w16.toType(DataType.FLOAT32, false)).toType(DataType.FLOAT16, false);
            assertArrayEquals(floats(via32), floats(q16), scheme + " fp16");

            // No BFLOAT16 case: in DJL 0.36 / PyTorch 2.7.1 CPU, toType(BFLOAT16) aborts the JVM (std::terminate).

            // fp64 values that fp32 cannot hold: an fp64 computation would keep the extra digits.
            double[] d = new double[8 * 256];
            float[] f = w32.toFloatArray();
            for (int i = 0; i < d.length; i++) {
                d[i] = f[i] * (1.0 + 1e-9 * ((i % 7) + 1));
            }
            NDArray w64 = m.create(d, new Shape(8, 256));
            NDArray q64 = gq.apply(w64);
            assertEquals(DataType.FLOAT64, q64.getDataType());
            double[] expected = gq.apply(w64.toType(DataType.FLOAT32, false)).toType(DataType.FLOAT64, false)
                    .toDoubleArray();
            assertArrayEquals(expected, q64.toDoubleArray(), 0.0, scheme + " fp64 must be computed in fp32");
        }
    }

    // ---------------------------------------------------------------- resources

    /**
     * apply() must leave only its result on the input's manager. The weight usually lives on the
     * model's long-lived manager (InPlaceWeight.replace closes only the returned array), so every
     * temporary left there (fp32 copy, max, min, scale, zero, each elementwise step) stays alive until
     * the model is closed: 20 (asym) or 11 (sym) arrays per call, most weight-sized, times alphas x linears x layers in the search.
     */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void applyLeavesNoTemporariesOnTheInputManager(QuantScheme scheme) {
        try (NDManager m = NDManager.newBaseManager(); NDManager model = m.newSubManager()) {
            NDArray w = model.create(QuantTestSupport.gaussian(5, 8 * 256, 0.02), new Shape(8, 256));
            int before = model.getManagedArrays().size();
            NDArray q = GroupQuantizer.of(scheme).apply(w);
            int after = model.getManagedArrays().size();
            assertTrue(after - before <= 1, scheme + ": " + (after - before) + " arrays left on the input's manager");
            assertEquals(new Shape(8, 256), q.getShape());
            assertFalse(w.isReleased());
            assertEquals(8 * 256, floats(q).length, "result must stay usable");
        }
    }

    // ---------------------------------------------------------------- scalar reference

    static float[] reference(float[] w, int rows, int cols, int g, int bits, boolean symmetric) {
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int start = 0; start < cols; start += g) {
                int from = r * cols + start;
                int to = from + g;
                if (symmetric) {
                    float qmax = (1 << (bits - 1)) - 1;
                    float absmax = 0f;
                    for (int i = from; i < to; i++) {
                        absmax = Math.max(absmax, Math.abs(w[i]));
                    }
                    float scale = Math.max(absmax, 1e-5f) / qmax;
                    for (int i = from; i < to; i++) {
                        float q = (float) Math.min(qmax, Math.max(-qmax - 1, Math.rint(w[i] / scale)));
                        out[i] = q * scale;
                    }
                } else {
                    float qmax = (1 << bits) - 1;
                    float min = Float.MAX_VALUE;
                    float max = -Float.MAX_VALUE;
                    for (int i = from; i < to; i++) {
                        min = Math.min(min, w[i]);
                        max = Math.max(max, w[i]);
                    }
                    float scale = Math.max(max - min, 1e-5f) / qmax;
                    float zero = (float) Math.min(qmax, Math.max(0, -Math.rint(min / scale)));
                    for (int i = from; i < to; i++) {
                        float q = (float) Math.min(qmax, Math.max(0, Math.rint(w[i] / scale) + zero));
                        out[i] = (q - zero) * scale;
                    }
                }
            }
        }
        return out;
    }
}
