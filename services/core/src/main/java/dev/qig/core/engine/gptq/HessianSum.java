package dev.qig.core.engine.gptq;

import dev.qig.quant.ExactSum;
import java.math.BigInteger;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * The exact accumulator of one linear layer's input Hessian {@code H = Σ_t w_t x_t x_tᵀ} (in x in,
 * symmetric), the statistic GPTQ quantizes against. Calibration tokens arrive in blocks, in whatever
 * order and grouping the stream delivers them; every entry is kept as an exact sum, so adding the
 * same tokens in any order, or merging partial sums ({@link #plus}) in any grouping, gives the same
 * {@link #toMatrix()} bit for bit, as {@link ExactSum} does for the scale search. Token weights are
 * QIG's per-token importances ({@code H = Xᵀ diag(λ) X}, qig-method.md section 4); null means 1.
 *
 * <p><b>Representation.</b> Each upper-triangle entry is the exact sum of three doubles (a cascade:
 * every addition is an error-free TwoSum whose rounding error moves one level down) plus an
 * {@link ExactSum} that receives, exactly, whatever falls off the bottom level. Products of two
 * float32 values are exact in double; a weighted product {@code (w x_i) x_j} is split exactly into
 * a high and a low double with an FMA. The three levels hold 159 bits, enough for terms spanning
 * some 30 decades, so the BigInteger fallback is almost never touched and the inner loop is plain
 * double arithmetic over arrays.
 *
 * <p><b>Normalisation.</b> {@link #toMatrix()} returns the weighted mean {@code Σ w_t x_t x_tᵀ / Σ w_t},
 * each entry the exact quotient rounded once. The reference (IST-DASLab/gptq {@code add_batch})
 * keeps {@code 2/nsamples · Σ x xᵀ} with nsamples counting sequences, not tokens; GPTQ does not
 * depend on a positive scale of H (its damping is relative to mean(diag H)), but the loss
 * {@link Gptq.Result#error()} does: with this normalisation it is the mean squared output error.
 *
 * <p><b>Cost.</b> Memory is 24 bytes per upper-triangle entry: 9.6 MB at in = 896, 284 MB at
 * in = 4864 (11.8M entries). {@link #add} costs about 20 flops per token and entry (twice that for
 * weighted tokens), in parallel over rows: on two cores 744 tokens take about 0.2 s at in = 896
 * (0.4 s weighted) and 5.5 s at in = 4864. {@link #toMatrix()} does one BigInteger division per
 * entry (0.08 s and 2.5 s). That suits small layers and tests; for large layers the stream would
 * rather compute each sample's {@code Σ_t w_t x_t x_tᵀ} in float64 with one deterministic BLAS
 * call (a rounding that replaying the sample reproduces) and sum those per-sample matrices exactly
 * per entry: the same cascade, one term per sample instead of one per token, so the total is
 * still independent of the order in which samples arrive.
 *
 * <p>Not thread-safe: one caller at a time ({@link #add} and {@link #plus} parallelise internally).
 */
public final class HessianSum {

    /** Rows of the upper triangle handled by one parallel task; their partial sums stay in cache per token. */
    private static final int ROWS_PER_TASK = 8;

    private final int dimension;
    /** Row i holds entries (i, i + k) at index k: the three levels of the cascade. */
    private final double[][] high;
    private final double[][] middle;
    private final double[][] low;
    /** Per row, allocated on the first spill: the exact remainder below the three levels. */
    private final ExactSum[][] spill;
    private long tokens;
    private ExactSum weightSum = ExactSum.ZERO;

    /** An empty sum for inputs of {@code dimension} features (at most 46340, so that {@link #toMatrix()} fits one array). */
    public HessianSum(int dimension) {
        if (dimension < 1 || dimension > 46340) {
            throw new IllegalArgumentException("dimension must be in [1, 46340], got " + dimension);
        }
        this.dimension = dimension;
        high = new double[dimension][];
        middle = new double[dimension][];
        low = new double[dimension][];
        for (int i = 0; i < dimension; i++) {
            high[i] = new double[dimension - i];
            middle[i] = new double[dimension - i];
            low[i] = new double[dimension - i];
        }
        spill = new ExactSum[dimension][];
    }

    /**
     * Adds a block of tokens.
     *
     * @param x tokens x dimension, row-major; finite
     * @param tokens rows of {@code x}
     * @param tokenWeights one finite non-negative weight per token, or null for all 1
     */
    public void add(float[] x, int tokens, float[] tokenWeights) {
        Objects.requireNonNull(x, "x");
        int n = dimension;
        if (tokens < 0 || (long) tokens * n != x.length) {
            throw new IllegalArgumentException("x has " + x.length + " values, expected " + tokens + " x " + n);
        }
        if (tokenWeights != null && tokenWeights.length != tokens) {
            throw new IllegalArgumentException(tokenWeights.length + " token weights for " + tokens + " tokens");
        }
        double[] values = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            if (!Float.isFinite(x[k])) {
                throw new IllegalArgumentException("x[" + k + "] is not finite: " + x[k]);
            }
            values[k] = x[k];
        }
        ExactSum addedWeight = ExactSum.ZERO;
        if (tokenWeights == null) {
            addedWeight = ExactSum.of(tokens);
        } else {
            for (int t = 0; t < tokens; t++) {
                float w = tokenWeights[t];
                if (!(w >= 0) || w == Float.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException("token weight " + t + " must be finite and >= 0, got " + w);
                }
                addedWeight = addedWeight.plus(w);
            }
        }
        int tasks = (n + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        IntStream.range(0, tasks).parallel().forEach(task -> addRows(task * ROWS_PER_TASK,
                Math.min(n, (task + 1) * ROWS_PER_TASK), values, tokens, tokenWeights));
        this.tokens += tokens;
        weightSum = weightSum.plus(addedWeight);
    }

    private void addRows(int firstRow, int endRow, double[] x, int tokens, float[] tokenWeights) {
        int n = dimension;
        // Row i's loops index everything by k = j - i (the token's tail copied to xs): one index
        // for all arrays is what lets the JIT vectorize them.
        double[] xs = new double[n];
        double[] products = new double[n];
        double[] productErrors = new double[n];
        double[] residue = new double[n];
        for (int t = 0; t < tokens; t++) {
            double weight = tokenWeights == null ? 1.0 : tokenWeights[t];
            if (weight == 0) {
                continue;
            }
            int row = t * n;
            for (int i = firstRow; i < endRow; i++) {
                double xi = x[row + i];
                if (xi == 0) {
                    continue;
                }
                int length = n - i;
                System.arraycopy(x, row + i, xs, 0, length);
                if (weight == 1) {
                    cascadeRow(i, xi, xs, length, residue);
                } else {
                    double wxi = weight * xi; // float x float: exact in double
                    for (int k = 0; k < length; k++) {
                        products[k] = wxi * xs[k];
                        productErrors[k] = Math.fma(wxi, xs[k], -products[k]);
                    }
                    cascadeRow(i, 1.0, products, length, residue);
                    cascadeRow(i, 1.0, productErrors, length, residue);
                }
            }
        }
    }

    /**
     * Adds {@code factor · terms[k]} (an exact product) to entry (i, i + k) for k < length, each
     * through the three levels as an error-free TwoSum; what falls off the bottom level (almost
     * never anything) is spilled exactly.
     */
    private void cascadeRow(int i, double factor, double[] terms, int length, double[] residue) {
        double[] high = this.high[i];
        double[] middle = this.middle[i];
        double[] low = this.low[i];
        for (int k = 0; k < length; k++) {
            residue[k] = cascade(high, middle, low, k, factor * terms[k]);
        }
        spillResidues(i, residue);
    }

    /** Adds {@code term} to entry k of a row through the three levels; returns what is left below the lowest. */
    private static double cascade(double[] high, double[] middle, double[] low, int k, double term) {
        double h = high[k];
        double sum = h + term;
        double virtual = sum - h;
        double carry = (h - (sum - virtual)) + (term - virtual);
        high[k] = sum;
        double m = middle[k];
        sum = m + carry;
        virtual = sum - m;
        carry = (m - (sum - virtual)) + (carry - virtual);
        middle[k] = sum;
        double l = low[k];
        sum = l + carry;
        virtual = sum - l;
        carry = (l - (sum - virtual)) + (carry - virtual);
        low[k] = sum;
        return carry;
    }

    private void spillResidues(int i, double[] residue) {
        for (int k = 0; k < dimension - i; k++) {
            if (residue[k] != 0) {
                spill(i, k, ExactSum.of(residue[k]));
            }
        }
    }

    private void addExactly(int i, int k, double term) {
        double rest = cascade(high[i], middle[i], low[i], k, term);
        if (rest != 0) {
            spill(i, k, ExactSum.of(rest));
        }
    }

    /** Adds an exact remainder to entry (i, i + k); only the task that owns row i calls this. */
    private void spill(int i, int k, ExactSum value) {
        ExactSum[] row = spill[i];
        if (row == null) {
            row = new ExactSum[dimension - i];
            spill[i] = row;
        }
        ExactSum old = row[k];
        row[k] = old == null ? value : old.plus(value);
    }

    /** Adds another sum of the same dimension into this one, exactly; returns this. */
    public HessianSum plus(HessianSum other) {
        Objects.requireNonNull(other, "other");
        if (other.dimension != dimension) {
            throw new IllegalArgumentException("dimension " + other.dimension + " != " + dimension);
        }
        IntStream.range(0, dimension).parallel().forEach(i -> {
            ExactSum[] otherSpill = other.spill[i];
            for (int k = 0; k < dimension - i; k++) {
                // Read all of other's entry first: other may be this.
                double h = other.high[i][k];
                double m = other.middle[i][k];
                double l = other.low[i][k];
                ExactSum s = otherSpill == null ? null : otherSpill[k];
                addExactly(i, k, h);
                addExactly(i, k, m);
                addExactly(i, k, l);
                if (s != null) {
                    spill(i, k, s);
                }
            }
        });
        tokens += other.tokens;
        weightSum = weightSum.plus(other.weightSum);
        return this;
    }

    /** The exact, unnormalised {@code Σ_t w_t x_t[i] x_t[j]}. */
    public ExactSum sum(int i, int j) {
        int lo = Math.min(i, j);
        int hi = Math.max(i, j);
        Objects.checkIndex(hi, dimension);
        Objects.checkIndex(lo, dimension);
        int k = hi - lo;
        ExactSum s = ExactSum.of(high[lo][k]).plus(middle[lo][k]).plus(low[lo][k]);
        ExactSum[] row = spill[lo];
        return row == null || row[k] == null ? s : s.plus(row[k]);
    }

    /**
     * The weighted mean {@code Σ w_t x_t x_tᵀ / Σ w_t} as a dense symmetric in x in matrix, row-major,
     * every entry the exact quotient rounded once to the nearest double.
     */
    public double[] toMatrix() {
        if (weightSum.unscaled().signum() == 0) {
            throw new IllegalStateException("no token weight has been added");
        }
        int n = dimension;
        double[] h = new double[n * n];
        double denominator = weightSum.doubleValue();
        boolean denominatorExact = ExactSum.of(denominator).equals(weightSum);
        IntStream.range(0, n).parallel().forEach(i -> {
            ExactSum[] row = spill[i];
            for (int j = i; j < n; j++) {
                int k = j - i;
                boolean single = middle[i][k] == 0 && low[i][k] == 0 && (row == null || row[k] == null);
                // One double divided by an exact double is already the quotient rounded once.
                double mean = single && denominatorExact ? high[i][k] / denominator : roundedQuotient(sum(i, j), weightSum);
                h[i * n + j] = mean;
                h[j * n + i] = mean;
            }
        });
        return h;
    }

    /** The quotient of two exact values (denominator positive) rounded once to the nearest double, ties to even. */
    static double roundedQuotient(ExactSum numerator, ExactSum denominator) {
        int sign = numerator.unscaled().signum();
        if (sign == 0) {
            return 0.0;
        }
        BigInteger a = numerator.unscaled().abs();
        BigInteger b = denominator.unscaled();
        // At least 55 quotient bits, then the remainder as a sticky bit: enough to round correctly.
        int shift = Math.max(0, 55 + b.bitLength() - a.bitLength());
        BigInteger[] quotient = a.shiftLeft(shift).divideAndRemainder(b);
        BigInteger q = quotient[0];
        int exponent = numerator.exponent() - denominator.exponent() - shift;
        if (quotient[1].signum() != 0) {
            q = q.shiftLeft(1).setBit(0);
            exponent--;
        }
        double magnitude = ExactSum.of(q, exponent).doubleValue();
        return sign < 0 ? -magnitude : magnitude;
    }

    public int dimension() {
        return dimension;
    }

    /** Tokens added, weighted or not (zero-weight tokens count too). */
    public long tokens() {
        return tokens;
    }

    /** The exact sum of the token weights (the token count when all weights are 1). */
    public ExactSum weightSum() {
        return weightSum;
    }
}
