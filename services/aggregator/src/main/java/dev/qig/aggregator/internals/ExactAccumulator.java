package dev.qig.aggregator.internals;

import dev.qig.quant.ExactSum;
import java.math.BigInteger;

/**
 * A mutable exact sum, for a round's running sums: the same value {@link ExactSum#plus} computes,
 * without a new BigInteger per addition (adding ExactSums was a third of the aggregator's time per
 * record, issue 20). The value is {@code sum limbs[i] * 2^(32 * (base + i))}: an addition adds a
 * value's bits, cut into 32-bit chunks, to the two or three limbs they fall in, and carries are
 * propagated only now and then ({@link #normalize}) and when the value is read ({@link #toExactSum}).
 * Exact, so the order of additions cannot change the result; {@link #toExactSum} is canonical.
 */
final class ExactAccumulator {

    private static final long MASK = 0xFFFF_FFFFL;
    /** Every addition adds less than 2^32 to a limb: after this many, carries are propagated (well before 2^63). */
    private static final int ADDS_BEFORE_CARRY = 1 << 29;
    private static final long[] NONE = new long[0];

    private long[] limbs = NONE;
    /** Chunk index (power of 2^32) of limbs[0]. */
    private int base;
    private int pending;

    ExactAccumulator() {}

    ExactAccumulator(ExactSum value) {
        add(value);
    }

    /** Adds an exact sum. */
    void add(ExactSum s) {
        BigInteger u = s.unscaled();
        int sign = u.signum();
        if (sign == 0) {
            return;
        }
        if (u.bitLength() <= 62) {
            // One double's value (53 bits) and most small sums: no BigInteger work at all.
            addLong(u.longValue(), s.exponent());
            return;
        }
        BigInteger magnitude = u.abs();
        int k = Math.floorDiv(s.exponent(), 32);
        BigInteger aligned = magnitude.shiftLeft(s.exponent() - 32 * k);
        int chunks = (aligned.bitLength() + 31) / 32;
        ensure(k, k + chunks - 1);
        for (int i = 0; i < chunks; i++) {
            long c = aligned.shiftRight(32 * i).longValue() & MASK;
            limbs[k - base + i] += sign < 0 ? -c : c;
        }
        added();
    }

    /** Adds a finite double (the caller has checked), exactly: its mantissa at its exponent. */
    void add(double v) {
        if (v == 0) {
            return;
        }
        long bits = Double.doubleToRawLongBits(v);
        int biased = (int) ((bits >>> 52) & 0x7ff);
        long m = bits & ((1L << 52) - 1);
        int e;
        if (biased == 0) {
            e = -1074; // subnormal: no implicit leading bit
        } else {
            m |= 1L << 52;
            e = biased - 1075;
        }
        addLong(bits < 0 ? -m : m, e);
    }

    /** Adds {@code m * 2^e}, |m| < 2^62. */
    private void addLong(long m, int e) {
        long a = Math.abs(m);
        int k = Math.floorDiv(e, 32);
        int r = e - 32 * k;
        // a * 2^r < 2^93: its low 64 bits and the rest (shifting by 64 would be a shift by 0 in Java).
        long lo = a << r;
        long hi = r == 0 ? 0 : a >>> (64 - r);
        ensure(k, k + 2);
        int i = k - base;
        if (m < 0) {
            limbs[i] -= lo & MASK;
            limbs[i + 1] -= lo >>> 32;
            limbs[i + 2] -= hi;
        } else {
            limbs[i] += lo & MASK;
            limbs[i + 1] += lo >>> 32;
            limbs[i + 2] += hi;
        }
        added();
    }

    private void added() {
        if (++pending >= ADDS_BEFORE_CARRY) {
            normalize();
        }
    }

    /** Makes room for chunks {@code from..to} (and one above, for carries). */
    private void ensure(int from, int to) {
        if (limbs.length == 0) {
            base = from;
            limbs = new long[to - from + 2];
            return;
        }
        int lo = Math.min(base, from);
        int hi = Math.max(base + limbs.length - 1, to + 1);
        if (lo == base && hi == base + limbs.length - 1) {
            return;
        }
        long[] grown = new long[hi - lo + 1];
        System.arraycopy(limbs, 0, grown, base - lo, limbs.length);
        limbs = grown;
        base = lo;
    }

    /** Propagates carries: every limb but the top one in [0, 2^32), the top one (the sign) in [-2^31, 2^31). */
    private void normalize() {
        int n = limbs.length;
        for (int i = 0; i < n - 1; i++) {
            long x = limbs[i];
            limbs[i] = x & MASK;
            limbs[i + 1] += x >> 32;
        }
        while (n > 0 && (limbs[n - 1] >= (1L << 31) || limbs[n - 1] < -(1L << 31))) {
            limbs = java.util.Arrays.copyOf(limbs, n + 1); // one limb more on top
            limbs[n] = limbs[n - 1] >> 32;
            limbs[n - 1] &= MASK;
            n = limbs.length;
        }
        pending = 0;
    }

    /** The exact value, canonical (equal to adding the same values with {@link ExactSum#plus}). */
    ExactSum toExactSum() {
        if (limbs.length == 0) {
            return ExactSum.ZERO;
        }
        normalize();
        // Big-endian two's complement: the top limb signed, the others unsigned 32-bit digits.
        int n = limbs.length;
        byte[] bytes = new byte[4 * n];
        for (int i = 0; i < n; i++) {
            int v = (int) limbs[n - 1 - i];
            bytes[4 * i] = (byte) (v >>> 24);
            bytes[4 * i + 1] = (byte) (v >>> 16);
            bytes[4 * i + 2] = (byte) (v >>> 8);
            bytes[4 * i + 3] = (byte) v;
        }
        return ExactSum.of(new BigInteger(bytes), 32 * base);
    }

    static ExactAccumulator[] of(ExactSum[] values) {
        ExactAccumulator[] out = new ExactAccumulator[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = new ExactAccumulator(values[i]);
        }
        return out;
    }

    static void add(ExactAccumulator[] into, ExactSum[] values) {
        for (int i = 0; i < into.length; i++) {
            into[i].add(values[i]);
        }
    }

    static ExactSum[] values(ExactAccumulator[] accumulators) {
        ExactSum[] out = new ExactSum[accumulators.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = accumulators[i].toExactSum();
        }
        return out;
    }
}
