package dev.qig.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor: dtype, row-major shape and its raw little-endian bytes.
 *
 * <p>The bytes are held as a read-only view and are not copied, so a tensor returned by
 * {@link SafetensorsReader} stays backed by the memory-mapped file. Whoever passes a buffer to the
 * constructor must not modify it afterwards; {@link #ofFloats} owns its buffer.
 */
public record TensorData(String name, DType dtype, long[] shape, ByteBuffer data) {

    /**
     * @throws IllegalArgumentException if a dimension is negative or {@code data.remaining()} is not
     *     {@code numel * dtype.byteSize()}
     */
    public TensorData {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = Objects.requireNonNull(shape, "shape").clone();
        Objects.requireNonNull(data, "data");
        long expected = byteSize(dtype, shape);
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " with dtype " + dtype + " needs " + expected + " bytes, got " + data.remaining());
        }
        data = data.slice().asReadOnlyBuffer();
    }

    /** An F32 tensor holding a copy of {@code values}. */
    public static TensorData ofFloats(String name, long[] shape, float[] values) {
        long n = numel(shape);
        if (n != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " has " + n + " elements, got " + values.length + " values");
        }
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(values.length, Float.BYTES))
                .order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return new TensorData(name, DType.F32, shape, buf);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** A fresh little-endian read-only view positioned at the first byte (views reset byte order). */
    @Override
    public ByteBuffer data() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    public long numel() {
        return numel(shape);
    }

    public long byteSize() {
        return data.remaining();
    }

    /**
     * Converts an F32, F16, BF16 or F64 tensor to floats (F64 is rounded to nearest float).
     *
     * @throws UnsupportedOperationException for integer and bool dtypes
     * @throws IllegalStateException if the tensor has more than {@code Integer.MAX_VALUE} elements
     */
    public float[] toFloatArray() {
        if (!dtype.isFloatingPoint()) {
            throw new UnsupportedOperationException("tensor '" + name + "' has dtype " + dtype
                    + "; toFloatArray supports F32, F16, BF16 and F64");
        }
        long n = numel();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor '" + name + "' has " + n + " elements, too many for a float[]");
        }
        float[] out = new float[(int) n];
        ByteBuffer buf = data();
        switch (dtype) {
            case F32 -> buf.asFloatBuffer().get(out);
            case F64 -> {
                DoubleBuffer d = buf.asDoubleBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) d.get(i);
                }
            }
            case F16 -> {
                ShortBuffer s = buf.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = f16ToFloat(s.get(i));
                }
            }
            case BF16 -> {
                ShortBuffer s = buf.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = bf16ToFloat(s.get(i));
                }
            }
            default -> throw new AssertionError(dtype);
        }
        return out;
    }

    /** IEEE 754 binary16 to float; exact for every input (Java 17 has no Float.float16ToFloat). */
    public static float f16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            // Inf or NaN; the NaN payload moves to the top of the float mantissa.
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            // Zero or subnormal: mant * 2^-24, exactly representable as a normal float.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** bfloat16 is the upper half of a float's bits, so widening is a shift. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * float to IEEE 754 binary16, rounding to nearest even as PyTorch's {@code .half()} does; overflow
     * gives infinity, NaN stays NaN (Java 17 has no Float.floatToFloat16).
     */
    public static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        int shift;
        int half;
        if (e <= 0) { // subnormal half: the implicit bit joins the mantissa, shifted further
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            shift = 14 - e;
            half = mant >>> shift;
        } else {
            shift = 13;
            half = (e << 10) | (mant >>> 13);
        }
        int rest = mant & ((1 << shift) - 1);
        int midpoint = 1 << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1) == 1)) {
            half++; // a carry into the exponent is the correct rounding (up to infinity)
        }
        return (short) (sign | half);
    }

    /** float to bfloat16, rounding to nearest even as PyTorch does; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Elements of a tensor of this shape (1 for a scalar). */
    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = multiply(n, d, shape);
        }
        return n;
    }

    static long byteSize(DType dtype, long[] shape) {
        return multiply(numel(shape), dtype.byteSize(), shape);
    }

    private static long multiply(long a, long b, long[] shape) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("size of shape " + Arrays.toString(shape) + " overflows a long");
        }
    }

    // Records compare array components by identity; tensors should compare by content.
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && data.equals(t.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), data);
    }

    @Override
    public String toString() {
        return "TensorData[" + name + ", " + dtype + ", " + Arrays.toString(shape) + ", " + data.remaining() + " bytes]";
    }
}
