package dev.qig.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/** Small helpers shared by the quantizer tests: deterministic inputs and element-wise checks. */
public final class QuantTestSupport {

    private QuantTestSupport() {}

    static NDArray matrix(NDManager m, float[][] rows) {
        int r = rows.length;
        int c = rows[0].length;
        float[] flat = new float[r * c];
        for (int i = 0; i < r; i++) {
            assertEquals(c, rows[i].length, "ragged test matrix");
            System.arraycopy(rows[i], 0, flat, i * c, c);
        }
        return m.create(flat, new Shape(r, c));
    }

    /** Standard-normal entries from a seeded java.util.Random (independent of the engine's RNG). */
    public static float[] gaussian(long seed, int n, double std) {
        Random rnd = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (rnd.nextGaussian() * std);
        }
        return out;
    }

    static NDArray randomMatrix(NDManager m, long seed, long rows, long cols) {
        return m.create(gaussian(seed, Math.toIntExact(rows * cols), 0.02), new Shape(rows, cols));
    }

    static float[] floats(NDArray a) {
        return a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : a.toType(DataType.FLOAT32, false).toFloatArray();
    }

    static void assertClose(float[] expected, float[] actual, double abs, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= abs,
                    what + ": element " + i + " expected " + expected[i] + " but was " + actual[i]);
        }
    }

    /** |a - b| <= rel * |a| (+ a tiny absolute floor so exact zeros compare equal). */
    static void assertRelClose(float[] expected, float[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        int bad = 0;
        String first = null;
        for (int i = 0; i < expected.length; i++) {
            double tol = rel * Math.abs(expected[i]) + 1e-30;
            if (!(Math.abs(expected[i] - actual[i]) <= tol)) {
                bad++;
                if (first == null) {
                    first = "element " + i + " expected " + expected[i] + " but was " + actual[i];
                }
            }
        }
        assertEquals(0, bad, what + ": " + bad + " of " + expected.length + " elements differ; first: " + first);
    }
}
