package dev.qig.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorDataTest {

    /** A tensor of 16-bit values given as their bit patterns, stored little endian. */
    private static TensorData halfTensor(DType dtype, int... bits) {
        ByteBuffer buf = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : bits) {
            buf.putShort((short) b);
        }
        return new TensorData("t", dtype, new long[] {bits.length}, buf.flip());
    }

    private static void assertBitsEqual(float expected, float actual, String what) {
        assertEquals(Integer.toHexString(Float.floatToRawIntBits(expected)),
                Integer.toHexString(Float.floatToRawIntBits(actual)), what);
    }

    @Test
    void f16HandComputedValues() {
        float[] f = halfTensor(DType.F16, 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8001, 0x03FF, 0x0400,
                0x7C00, 0xFC00, 0x0000, 0x8000, 0x3555, 0x3800).toFloatArray();
        assertBitsEqual(1.0f, f[0], "0x3C00");
        assertBitsEqual(-2.0f, f[1], "0xC000");
        assertBitsEqual(65504.0f, f[2], "0x7BFF, largest finite half");
        assertBitsEqual((float) 5.960464477539063e-8, f[3], "0x0001, smallest subnormal = 2^-24");
        assertBitsEqual((float) -5.960464477539063e-8, f[4], "0x8001");
        assertBitsEqual(1023 * 0x1p-24f, f[5], "0x03FF, largest subnormal");
        assertBitsEqual(0x1p-14f, f[6], "0x0400, smallest normal");
        assertBitsEqual(Float.POSITIVE_INFINITY, f[7], "0x7C00");
        assertBitsEqual(Float.NEGATIVE_INFINITY, f[8], "0xFC00");
        assertBitsEqual(0.0f, f[9], "0x0000");
        assertBitsEqual(-0.0f, f[10], "0x8000");
        assertBitsEqual(0.333251953125f, f[11], "0x3555 = 1365/4096");
        assertBitsEqual(0.5f, f[12], "0x3800");
    }

    @Test
    void f16NaNsStayNaNAndKeepPayload() {
        float[] f = halfTensor(DType.F16, 0x7E00, 0xFE00, 0x7C01, 0x7F23).toFloatArray();
        for (float v : f) {
            assertTrue(Float.isNaN(v));
        }
        assertEquals(0x7FC00000, Float.floatToRawIntBits(f[0]));
        assertEquals(0xFFC00000, Float.floatToRawIntBits(f[1]));
        assertEquals(0x7FC00000 | (0x123 << 13), Float.floatToRawIntBits(f[3]));
    }

    /** Every finite half checked against the textbook formula (independent of the bit shuffling). */
    @Test
    void f16AllFiniteValuesMatchDefinition() {
        for (int h = 0; h < 0x10000; h++) {
            int exp = (h >>> 10) & 0x1F;
            if (exp == 0x1F) {
                continue;
            }
            int mant = h & 0x3FF;
            double magnitude = exp == 0 ? Math.scalb((double) mant, -24) : Math.scalb(1024.0 + mant, exp - 25);
            double expected = (h & 0x8000) != 0 ? -magnitude : magnitude;
            assertBitsEqual((float) expected, TensorData.f16ToFloat((short) h), "half 0x" + Integer.toHexString(h));
        }
    }

    /**
     * Narrowing, checked by its definition: every finite half comes back from its float, and the
     * midpoint between two neighbouring halves (exact in float) goes to the even one, a float just
     * either side of it to the nearer one. The same for bfloat16.
     */
    @Test
    void narrowingRoundsToNearestEven() {
        checkNarrowing(0x7C00, h -> TensorData.f16ToFloat((short) h), TensorData::floatToF16, "half");
        checkNarrowing(0x7F80, h -> TensorData.bf16ToFloat((short) h), TensorData::floatToBf16, "bfloat16");
        assertEquals((short) 0x7C00, TensorData.floatToF16(65520f), "half overflow rounds to infinity");
        assertEquals((short) 0x7BFF, TensorData.floatToF16(65519f));
        assertEquals((short) 0, TensorData.floatToF16(0x1p-26f), "below half the smallest subnormal");
        assertTrue(Float.isNaN(TensorData.f16ToFloat(TensorData.floatToF16(Float.NaN))));
        assertTrue(Float.isNaN(TensorData.bf16ToFloat(TensorData.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
    }

    private static void checkNarrowing(int infinity, java.util.function.IntFunction<Float> widen,
            java.util.function.Function<Float, Short> narrow, String what) {
        for (int sign : new int[] {0, 0x8000}) {
            for (int h = 0; h < infinity; h++) {
                float a = widen.apply(sign | h);
                assertEquals((short) (sign | h), narrow.apply(a), what + " 0x" + Integer.toHexString(h) + " round trip");
                if (h == infinity - 1) {
                    continue; // no finite neighbour above the largest finite value
                }
                float b = widen.apply(sign | (h + 1));
                float mid = (float) (((double) a + b) / 2);
                int even = (h & 1) == 0 ? h : h + 1;
                assertEquals((short) (sign | even), narrow.apply(mid), what + " midpoint after 0x" + Integer.toHexString(h));
                float towardA = sign == 0 ? Math.nextDown(mid) : Math.nextUp(mid);
                float towardB = sign == 0 ? Math.nextUp(mid) : Math.nextDown(mid);
                assertEquals((short) (sign | h), narrow.apply(towardA), what + " below midpoint after 0x" + Integer.toHexString(h));
                assertEquals((short) (sign | (h + 1)), narrow.apply(towardB), what + " above midpoint after 0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void bf16HandComputedValues() {
        float[] f = halfTensor(DType.BF16, 0x3F80, 0xC000, 0x4049, 0x7F80, 0xFF80, 0x0001, 0x8000, 0x7F7F)
                .toFloatArray();
        assertBitsEqual(1.0f, f[0], "0x3F80");
        assertBitsEqual(-2.0f, f[1], "0xC000");
        assertBitsEqual(3.140625f, f[2], "0x4049");
        assertBitsEqual(Float.POSITIVE_INFINITY, f[3], "0x7F80");
        assertBitsEqual(Float.NEGATIVE_INFINITY, f[4], "0xFF80");
        assertBitsEqual(0x1p-133f, f[5], "0x0001, smallest subnormal bf16");
        assertBitsEqual(-0.0f, f[6], "0x8000");
        assertBitsEqual(Float.intBitsToFloat(0x7F7F0000), f[7], "0x7F7F, largest finite bf16");
        assertTrue(Float.isNaN(halfTensor(DType.BF16, 0x7FC1).toFloatArray()[0]));
    }

    @Test
    void f64IsRoundedToFloat() {
        ByteBuffer buf = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        buf.putDouble(0.1).putDouble(-1e300).putDouble(1.5).flip();
        float[] f = new TensorData("d", DType.F64, new long[] {3}, buf).toFloatArray();
        assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY, 1.5f}, f);
    }

    @Test
    void integerTensorsDoNotConvertToFloat() {
        TensorData t = new TensorData("i", DType.I32, new long[] {1}, ByteBuffer.allocate(4));
        assertThrows(UnsupportedOperationException.class, t::toFloatArray);
    }

    @Test
    void ofFloatsStoresLittleEndianF32() {
        TensorData t = TensorData.ofFloats("w", new long[] {2, 1}, new float[] {1.0f, -2.0f});
        assertEquals(DType.F32, t.dtype());
        assertEquals(2, t.numel());
        ByteBuffer b = t.data();
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        // 1.0f = 0x3F800000, -2.0f = 0xC0000000, least significant byte first.
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0}, raw);
    }

    @Test
    void numelHandlesScalarsAndEmptyShapes() {
        assertEquals(1, TensorData.ofFloats("s", new long[0], new float[] {7f}).numel());
        assertEquals(0, TensorData.ofFloats("e", new long[] {3, 0}, new float[0]).numel());
        assertEquals(24, new TensorData("b", DType.U8, new long[] {2, 3, 4}, ByteBuffer.allocate(24)).numel());
    }

    @Test
    void constructorRejectsSizeMismatchAndBadShapes() {
        assertThrows(IllegalArgumentException.class,
                () -> new TensorData("x", DType.F32, new long[] {2}, ByteBuffer.allocate(4)));
        assertThrows(IllegalArgumentException.class,
                () -> new TensorData("x", DType.F32, new long[] {-1}, ByteBuffer.allocate(0)));
        assertThrows(IllegalArgumentException.class,
                () -> new TensorData("x", DType.F32, new long[] {1L << 40, 1L << 40}, ByteBuffer.allocate(0)));
        assertThrows(IllegalArgumentException.class,
                () -> TensorData.ofFloats("x", new long[] {3}, new float[2]));
    }

    @Test
    void isImmutable() {
        long[] shape = {2};
        float[] values = {1f, 2f};
        TensorData t = TensorData.ofFloats("w", shape, values);
        shape[0] = 99;
        values[0] = 99f;
        t.shape()[0] = 42;
        t.data().position(4);
        assertArrayEquals(new long[] {2}, t.shape());
        assertArrayEquals(new float[] {1f, 2f}, t.toFloatArray());
        assertTrue(t.data().isReadOnly());
        assertEquals(TensorData.ofFloats("w", new long[] {2}, new float[] {1f, 2f}), t);
    }
}
