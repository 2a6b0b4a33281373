package dev.qig.quant;

import java.math.BigInteger;
import java.util.Objects;

/**
 * An exact sum of doubles: {@code unscaled * 2^exponent} with an arbitrary-precision integer, so
 * that adding values in any order, or in any grouping, gives the same sum bit for bit. Floating
 * point addition is not associative, and the stream adds samples in whatever order the attributors
 * deliver them; summing exactly and rounding once at the end ({@link #doubleValue()}) is what makes
 * a stream's search identical to the batch's on the same samples.
 *
 * <p>Every finite double is an integer times a power of two, so the sum of any number of them is
 * too; the representation is canonical (an odd {@code unscaled}, or zero with exponent 0), so
 * {@link #equals} compares values. The integer grows only with the spread of the exponents summed
 * (about 100 bits for values between 1e-6 and 1e6).
 */
public final class ExactSum {

    public static final ExactSum ZERO = new ExactSum(BigInteger.ZERO, 0);

    private final BigInteger unscaled;
    private final int exponent;

    private ExactSum(BigInteger unscaled, int exponent) {
        this.unscaled = unscaled;
        this.exponent = exponent;
    }

    /** The exact value of a finite double; NaN and infinities are refused. */
    public static ExactSum of(double v) {
        if (!Double.isFinite(v)) {
            throw new ArithmeticException("not a finite value: " + v);
        }
        if (v == 0) {
            return ZERO;
        }
        long bits = Double.doubleToRawLongBits(v);
        int biased = (int) ((bits >>> 52) & 0x7ff);
        long mantissa = bits & ((1L << 52) - 1);
        int exponent;
        if (biased == 0) {
            exponent = -1074; // subnormal: no implicit leading bit
        } else {
            mantissa |= 1L << 52;
            exponent = biased - 1075;
        }
        int trailing = Long.numberOfTrailingZeros(mantissa);
        mantissa >>>= trailing;
        return new ExactSum(BigInteger.valueOf(v < 0 ? -mantissa : mantissa), exponent + trailing);
    }

    /** {@code unscaled * 2^exponent}, in canonical form. */
    public static ExactSum of(BigInteger unscaled, int exponent) {
        Objects.requireNonNull(unscaled, "unscaled");
        if (unscaled.signum() == 0) {
            return ZERO;
        }
        int trailing = unscaled.getLowestSetBit();
        return new ExactSum(unscaled.shiftRight(trailing), Math.addExact(exponent, trailing));
    }

    /** Exact sum of finite doubles. */
    public static ExactSum sum(double... values) {
        ExactSum s = ZERO;
        for (double v : values) {
            s = s.plus(v);
        }
        return s;
    }

    public ExactSum plus(double v) {
        return plus(of(v));
    }

    public ExactSum plus(ExactSum o) {
        if (o.unscaled.signum() == 0) {
            return this;
        }
        if (unscaled.signum() == 0) {
            return o;
        }
        int e = Math.min(exponent, o.exponent);
        BigInteger a = unscaled.shiftLeft(exponent - e);
        BigInteger b = o.unscaled.shiftLeft(o.exponent - e);
        return of(a.add(b), e);
    }

    /** The sum rounded once to the nearest double (ties to even); infinite beyond the double range. */
    public double doubleValue() {
        int sign = unscaled.signum();
        if (sign == 0) {
            return 0.0;
        }
        BigInteger magnitude = unscaled.abs();
        int bits = magnitude.bitLength();
        if (bits <= 53) {
            return sign * Math.scalb(magnitude.doubleValue(), exponent);
        }
        // Keep 53 bits and a rounding bit; the bits below decide ties (sticky).
        int shift = bits - 54;
        long top = magnitude.shiftRight(shift).longValue();
        boolean sticky = magnitude.getLowestSetBit() < shift;
        boolean round = (top & 1) == 1;
        top >>>= 1;
        if (round && (sticky || (top & 1) == 1)) {
            top++;
        }
        return sign * Math.scalb((double) top, exponent + shift + 1);
    }

    public BigInteger unscaled() {
        return unscaled;
    }

    public int exponent() {
        return exponent;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExactSum s && s.exponent == exponent && s.unscaled.equals(unscaled);
    }

    @Override
    public int hashCode() {
        return unscaled.hashCode() * 31 + exponent;
    }

    @Override
    public String toString() {
        return Double.toString(doubleValue());
    }
}
