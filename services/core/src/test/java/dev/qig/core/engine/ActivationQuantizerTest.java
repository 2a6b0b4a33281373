package dev.qig.core.engine;

import static dev.qig.core.engine.QuantTestSupport.assertClose;
import static dev.qig.core.engine.QuantTestSupport.assertRelClose;
import static dev.qig.core.engine.QuantTestSupport.floats;
import static dev.qig.core.engine.QuantTestSupport.gaussian;
import static dev.qig.core.engine.QuantTestSupport.matrix;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Dynamic per-token A8 quantizer of qig-method.md section 1: scale = max(absmax, 1e-5) / 127 per row. */
class ActivationQuantizerTest {

    private static final ActivationQuantizer A8 = new ActivationQuantizer(8);

    /**
     * <pre>
     * row 0: absmax 127 -> scale 1: [127, -63.5, 0.5, 0] -> [127, -64 (half to even), 0 (half to even), 0]
     * row 1: absmax 2.54 -> scale 0.02: x/s = [-127, 50, 0, 2.35] -> [-127, 50, 0, 2] -> [-2.54, 1, 0, 0.04]
     * </pre>
     * The two rows get different scales (per token, not per tensor).
     */
    @Test
    void perTokenHandComputed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = matrix(m, new float[][] {{127f, -63.5f, 0.5f, 0f}, {-2.54f, 1.0f, 0f, 0.047f}});
            NDArray q = A8.apply(x);
            assertEquals(new Shape(2, 4), q.getShape());
            float[] out = floats(q);
            assertClose(new float[] {127f, -64f, 0f, 0f}, Arrays.copyOfRange(out, 0, 4), 0.0, "row 0");
            assertClose(new float[] {-2.54f, 1.0f, 0f, 0.04f}, Arrays.copyOfRange(out, 4, 8), 2e-6, "row 1");
            assertEquals(0f, out[7] - 0.04f, 2e-6, "0.047 must fall to 2 steps (0.04), not 0.047 or 0.06");
        }
    }

    /** Ties on scale 1 round like Math.rint: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2, 126.5 -> 126. */
    @Test
    void roundsHalfToEven() {
        float[] ties = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f, 3.5f};
        float[] row = new float[ties.length + 1];
        row[0] = 127f;
        System.arraycopy(ties, 0, row, 1, ties.length);
        try (NDManager m = NDManager.newBaseManager()) {
            float[] out = floats(A8.apply(matrix(m, new float[][] {row})));
            for (int i = 0; i < ties.length; i++) {
                assertEquals(Math.rint(ties[i]), out[i + 1], 0.0, "tie " + ties[i]);
            }
        }
    }

    /** Each row's max |x| maps to exactly 127 * scale; all codes are integers in [-127, 127]. */
    @Test
    void rowAbsmaxMapsToFullScale() {
        int rows = 6;
        int cols = 32;
        float[] data = gaussian(3, rows * cols, 1.0);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                data[r * cols + c] *= (float) Math.pow(10, r - 3); // 1e-3 .. 1e2: very different token scales
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            float[] out = floats(A8.apply(m.create(data, new Shape(rows, cols))));
            for (int r = 0; r < rows; r++) {
                int arg = 0;
                float absmax = 0f;
                for (int c = 0; c < cols; c++) {
                    if (Math.abs(data[r * cols + c]) > absmax) {
                        absmax = Math.abs(data[r * cols + c]);
                        arg = r * cols + c;
                    }
                }
                float scale = absmax / 127f;
                assertEquals(Math.copySign(127f * scale, data[arg]), out[arg], 0f, "row " + r + " absmax");
                assertEquals(Math.abs(data[arg]), Math.abs(out[arg]), 1e-6 * absmax, "row " + r);
                for (int c = 0; c < cols; c++) {
                    double code = out[r * cols + c] / scale;
                    assertEquals(Math.rint(code), code, 1e-3, "row " + r + " col " + c + " off the grid");
                    assertTrue(Math.abs(code) <= 127 + 1e-3, "code " + code + " outside [-128, 127]");
                    assertEquals(Math.rint(data[r * cols + c] / scale), Math.rint(code), 0.0, "row " + r + " col " + c);
                }
            }
        }
    }

    /** Zeros stay zero; a row of zeros gives zeros (scale floor 1e-5, no 0/0); tiny rows use the floor. */
    @Test
    void zerosAndTinyRowsUseTheScaleFloor() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = matrix(m, new float[][] {
                {0f, 0f, 0f, 0f},
                {1e-7f, -1e-7f, 0f, 2e-7f},
                {0f, 3f, 0f, -1f}});
            float[] out = floats(A8.apply(x));
            for (float v : out) {
                assertFalse(Float.isNaN(v) || Float.isInfinite(v), Arrays.toString(out));
            }
            float s = 1e-5f / 127f; // 1e-7 / s = 1.27 -> 1;  2e-7 / s = 2.54 -> 3
            assertClose(new float[] {0f, 0f, 0f, 0f, s, -s, 0f, 3 * s}, Arrays.copyOfRange(out, 0, 8), 1e-13, "floor");
            assertEquals(0f, out[8], 0f);
            assertEquals(0f, out[10], 0f);
            assertEquals(3f, out[9], 1e-6);
        }
    }

    /** On (B, T, C) every token (b, t, :) is quantized on its own, exactly as if it were alone. */
    @Test
    void threeDimensionalInputIsQuantizedTokenByToken() {
        int b = 2;
        int t = 3;
        int c = 16;
        float[] data = gaussian(9, b * t * c, 1.0);
        for (int tok = 0; tok < b * t; tok++) {
            for (int i = 0; i < c; i++) {
                data[tok * c + i] *= 1 + 5 * tok; // different absmax per token
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(data, new Shape(b, t, c));
            NDArray q = A8.apply(x);
            assertEquals(new Shape(b, t, c), q.getShape());
            float[] out = floats(q);
            for (int tok = 0; tok < b * t; tok++) {
                float[] token = Arrays.copyOfRange(data, tok * c, (tok + 1) * c);
                float[] alone = floats(A8.apply(m.create(token, new Shape(1, 1, c))));
                assertArrayEquals(alone, Arrays.copyOfRange(out, tok * c, (tok + 1) * c), "token " + tok);
                float[] alone1d = floats(A8.apply(m.create(token, new Shape(1, c))));
                assertArrayEquals(alone1d, alone, "token " + tok + " as (1, C)");
            }
            // Not a per-tensor scale: token 0 (smallest) would lose almost all resolution under one.
            float tensorScale = 0f;
            for (float v : data) {
                tensorScale = Math.max(tensorScale, Math.abs(v));
            }
            tensorScale /= 127f;
            boolean offTensorGrid = false;
            for (int i = 0; i < c; i++) {
                double k = out[i] / tensorScale;
                offTensorGrid |= Math.abs(k - Math.rint(k)) > 1e-2;
            }
            assertTrue(offTensorGrid, "token 0 looks quantized with a per-tensor scale");
        }
    }

    /** Q(Q(x)) == Q(x) and Q(c x) == c Q(x) for c = 2 (dynamic scale follows the input). */
    @Test
    void idempotentAndScaleEquivariant() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(gaussian(21, 4 * 5 * 64, 3.0), new Shape(4, 5, 64));
            NDArray once = A8.apply(x);
            float[] a = floats(once);
            assertFalse(Arrays.equals(x.toFloatArray(), a));
            assertRelClose(a, floats(A8.apply(once)), 1e-6, "Q(Q(x))");
            float[] doubled = a.clone();
            for (int i = 0; i < doubled.length; i++) {
                doubled[i] *= 2f;
            }
            assertRelClose(doubled, floats(A8.apply(x.mul(2f))), 1e-6, "Q(2x)");
        }
    }

    /** Result dtype == input dtype; computed in fp32 (fp16 / fp64 inputs equal the fp32 path cast back). */
    @Test
    void keepsDtypeAndComputesInFp32() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x32 = m.create(gaussian(5, 3 * 4 * 32, 2.0), new Shape(3, 4, 32));
            assertEquals(DataType.FLOAT32, A8.apply(x32).getDataType());
            // FLOAT16 only: toType(BFLOAT16) aborts the JVM in DJL 0.36 / PyTorch 2.7.1 CPU.
            for (DataType low : new DataType[] {DataType.FLOAT16}) {
                NDArray xl = x32.toType(low, false);
                NDArray ql = A8.apply(xl);
                assertEquals(low, ql.getDataType());
                assertEquals(new Shape(3, 4, 32), ql.getShape());
                float[] via32 = floats(A8.apply(xl.toType(DataType.FLOAT32, false)).toType(low, false));
                assertArrayEquals(via32, floats(ql), low.toString());
            }
            float[] f = x32.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = f[i] * (1.0 + 1e-9 * ((i % 5) + 1));
            }
            NDArray x64 = m.create(d, new Shape(3, 4, 32));
            NDArray q64 = A8.apply(x64);
            assertEquals(DataType.FLOAT64, q64.getDataType());
            double[] expected = A8.apply(x64.toType(DataType.FLOAT32, false)).toType(DataType.FLOAT64, false)
                    .toDoubleArray();
            assertArrayEquals(expected, q64.toDoubleArray(), 0.0, "fp64 must be computed in fp32");
        }
    }

    /** Called on every forward: only the result may stay on the input's manager. */
    @Test
    void applyLeavesNoTemporariesOnTheInputManager() {
        try (NDManager m = NDManager.newBaseManager(); NDManager scope = m.newSubManager()) {
            NDArray x = scope.create(gaussian(5, 2 * 3 * 16, 1.0), new Shape(2, 3, 16));
            int before = scope.getManagedArrays().size();
            NDArray q = A8.apply(x);
            int after = scope.getManagedArrays().size();
            assertTrue(after - before <= 1, (after - before) + " arrays left on the input's manager");
            assertFalse(x.isReleased());
            assertEquals(2 * 3 * 16, floats(q).length, "result must stay usable");
        }
    }

    @Test
    void otherBitWidthsAndValidation() {
        assertThrows(IllegalArgumentException.class, () -> new ActivationQuantizer(1));
        assertThrows(IllegalArgumentException.class, () -> new ActivationQuantizer(17));
        assertEquals(8, A8.bits());
        // A4: qmax 7 -> scale 1 for absmax 7; range [-8, 7] but -7 is the most negative reachable code.
        try (NDManager m = NDManager.newBaseManager()) {
            float[] out = floats(new ActivationQuantizer(4).apply(
                    matrix(m, new float[][] {{-7f, 2.5f, 3.5f, 0.4f, 6.6f}})));
            assertClose(new float[] {-7f, 2f, 4f, 0f, 7f}, out, 0.0, "A4");
        }
    }

    /**
     * Static per-tensor: one scale for every token; values beyond the calibrated range clip.
     * <pre>
     * scale 0.5, 8 bits: [1.26, -0.2, 100, -100] -> x/s = [2.52, -0.4, 200, -200] -> [3, -0, 127, -128] -> [1.5, -0, 63.5, -64]
     * </pre>
     */
    @Test
    void staticPerTensorHandComputedAndClipped() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = matrix(m, new float[][] {{1.26f, -0.2f}, {100f, -100f}});
            float[] out = floats(new StaticActivationQuantizer(8, 0.5f).apply(x));
            assertClose(new float[] {1.5f, 0f, 63.5f, -64f}, out, 0.0, "one scale for both rows, clipped at the range");
            assertEquals(2.54f / 127, StaticActivationQuantizer.scaleFor(2.54f, 8));
            assertThrows(IllegalArgumentException.class, () -> new StaticActivationQuantizer(8, 0f));
            assertThrows(IllegalArgumentException.class, () -> new StaticActivationQuantizer(8, Float.NaN));
        }
    }
}
