package dev.qig.core.engine.gptq;

import dev.qig.core.engine.GroupQuantizer;
import dev.qig.quant.GptqOptions;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar et al., arXiv 2210.17323; reference github.com/IST-DASLab/gptq {@code gptq.py} and
 * AutoGPTQ {@code fasterquant}): quantizes a weight matrix column by column, after each column
 * spreading its rounding error over the columns not yet quantized so as to minimise the output
 * error on the calibration inputs, whose second moment H ({@link HessianSum}) is all it needs.
 *
 * <p>The quantizer is {@link GroupQuantizer}'s, bit for bit: min-max asymmetric or symmetric,
 * groups of its effective group size (one group per row when the size is 0 or does not divide the
 * input width), parameters computed in float32 from the float32 rounding of the current, already
 * error-compensated weights, codes and scales in its convention. With a diagonal H nothing is
 * compensated and, without act-order, the codes are exactly {@link GroupQuantizer#codes}. (The
 * reference's quantizer widens the range to include 0 and stores symmetric codes with an offset;
 * this one does not.) Everything else is double precision.
 *
 * <p>Steps, as the reference unless said otherwise:
 * <ol>
 * <li>Dead columns: where {@code H[i][i] == 0}, H[i][i] becomes 1 and column i of W becomes 0.
 * <li>Act-order (optional): columns are visited by descending {@code diag(H)}; ties keep their
 *     index order (a stable sort; torch.argsort leaves ties unspecified).
 * <li>Damping: {@code percdamp · mean(diag H)} is added to the diagonal.
 * <li>{@code U = chol(H⁻¹)} upper ({@link InverseCholesky}).
 * <li>Columns in visiting order, in lazy blocks of 128: column j is quantized, its error
 *     {@code e = (w_j - q_j) / U[j][j]} updates the rest of the block at once and the columns after
 *     it at the block's end ({@code W[:, end:] -= E · U[block, end:]}).
 * <li>Groups are runs of {@code groupSize} consecutive columns in visiting order; a group's
 *     parameters are computed when its first column is reached, from the current values of all its
 *     columns (the reference's {@code static_groups=False}). With act-order a group is therefore a
 *     set of columns scattered over the input, and {@link Result#groupIndex()} says which (AutoGPTQ's
 *     {@code g_idx}). The reference reads those current values from W as of the start of the lazy
 *     block, missing the updates from earlier columns of the same block when groups are smaller
 *     than the block; here they are fully up to date, as in the paper's Algorithm 1, and a block
 *     ends early where a group would straddle its end. For per-row parameters and groups of a
 *     multiple of 128 (W3A16, W4A16, W4A8) the two coincide; for W2A16's groups of 64 they do not. Per-row parameters come from W after dead columns are zeroed (the
 *     reference takes them before).
 * </ol>
 *
 * <p>Work is about n³/3 multiply-adds for the factor plus rows · n²/2 for the updates (n the input
 * width), in parallel over rows; results do not depend on the thread count. Memory is one n x n
 * double matrix (189 MB at n = 4864) besides the caller's H, and W in double. Qwen2-0.5B's down
 * projection (896 x 4864) takes about 6 s on two cores, 4.5 s of it for the factor.
 */
public final class Gptq {

    public static final double DEFAULT_PERCDAMP = GptqOptions.DEFAULT_PERCDAMP;
    /** Columns per lazy batch update, as the reference. */
    public static final int BLOCK_SIZE = 128;

    private final GroupQuantizer quantizer;
    private final double percdamp;
    private final boolean actOrder;

    /** GPTQ with the reference's defaults: damping 0.01, no act-order. */
    public Gptq(GroupQuantizer quantizer) {
        this(quantizer, DEFAULT_PERCDAMP, false);
    }

    /**
     * @param quantizer bits, group size and symmetry of the grid
     * @param percdamp damping as a fraction of mean(diag H), >= 0
     * @param actOrder visit columns by descending diag(H)
     */
    public Gptq(GroupQuantizer quantizer, double percdamp, boolean actOrder) {
        this.quantizer = Objects.requireNonNull(quantizer, "quantizer");
        if (!(percdamp >= 0) || Double.isInfinite(percdamp)) {
            throw new IllegalArgumentException("percdamp must be finite and >= 0, got " + percdamp);
        }
        this.percdamp = percdamp;
        this.actOrder = actOrder;
    }

    /**
     * The quantized weight, all arrays in the original column order.
     *
     * @param rows output rows
     * @param columns input columns
     * @param groupSize columns per group (the effective one)
     * @param codes rows x columns, row-major: unsigned in [0, 2^b-1] when asymmetric, signed in
     *     [-2^(b-1), 2^(b-1)-1] when symmetric
     * @param scales per (row, group), row-major
     * @param zeros per (row, group) in [0, 2^b-1]; null when symmetric
     * @param groupIndex per column, the group it belongs to ({@code column / groupSize} without act-order)
     * @param dequantized rows x columns: {@code (code - zero) · scale} in float32
     * @param error {@code Σ_rows Σ_j e_j²}, which equals {@code Σ_rows δ (H + damp·I) δᵀ} with δ the
     *     row's quantization error (dead columns zeroed): with H from {@link HessianSum#toMatrix()}
     *     and no damping, the weighted mean squared output error
     *     {@code Σ_t w_t ||(W - Ŵ) x_t||² / Σ_t w_t} on the calibration tokens. The reference's
     *     {@code error}, {@code ½ Σ (w - q)² / d²} on its {@code H = 2/nsamples Σ x xᵀ}, is the
     *     (unweighted) sum over tokens divided by the number of sequences instead.
     */
    public record Result(int rows, int columns, int groupSize, int[] codes, float[] scales, int[] zeros,
            int[] groupIndex, float[] dequantized, double error) {

        public int groups() {
            return columns / groupSize;
        }
    }

    /**
     * Quantizes W (rows x columns, row-major) against H (columns x columns, row-major, symmetric;
     * only its upper triangle is read).
     *
     * @throws ArithmeticException when H plus damping is not positive definite
     */
    public Result quantize(float[] weight, int rows, int columns, double[] hessian) {
        Objects.requireNonNull(weight, "weight");
        Objects.requireNonNull(hessian, "hessian");
        if (rows < 1 || columns < 1 || (long) rows * columns != weight.length) {
            throw new IllegalArgumentException("weight has " + weight.length + " values, expected " + rows + " x " + columns);
        }
        if ((long) columns * columns != hessian.length) {
            throw new IllegalArgumentException("hessian has " + hessian.length + " values, expected " + columns + "^2");
        }
        for (int k = 0; k < weight.length; k++) {
            if (!Float.isFinite(weight[k])) {
                throw new IllegalArgumentException("weight[" + k + "] is not finite: " + weight[k]);
            }
        }
        int n = columns;
        int groupSize = quantizer.effectiveGroupSize(n);

        double[] diag = new double[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            double d = hessian[i * n + i];
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("H[" + i + "][" + i + "] is not finite: " + d);
            }
            dead[i] = d == 0;
            diag[i] = dead[i] ? 1.0 : d;
        }
        int[] order = visitingOrder(diag);
        double damp = percdamp * Arrays.stream(diag).sum() / n;

        // The permuted, damped H, then U = chol(H⁻¹) upper in its place.
        double[] u = new double[n * n];
        IntStream.range(0, n).parallel().forEach(a -> {
            int pa = order[a];
            u[a * n + a] = diag[pa] + damp;
            for (int b = a + 1; b < n; b++) {
                int pb = order[b];
                u[a * n + b] = pa < pb ? hessian[pa * n + pb] : hessian[pb * n + pa];
            }
        });
        InverseCholesky.replaceByUpperFactorOfInverse(u, n);

        double[] w = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int a = 0; a < n; a++) {
                int column = order[a];
                w[r * n + a] = dead[column] ? 0.0 : weight[r * n + column];
            }
        }

        Grid grid = new Grid(quantizer.bits(), quantizer.symmetric(), rows, n, groupSize);
        double[] rowError = new double[rows];
        double[] blockErrors = new double[rows * BLOCK_SIZE];
        for (int start = 0, end; start < n; start = end) {
            end = blockEnd(start, n, groupSize);
            int first = start;
            int last = end;
            IntStream range = IntStream.range(0, rows);
            if ((long) rows * (last - first) * (last - first) >= 1 << 16) {
                range = range.parallel();
            }
            range.forEach(r -> rowError[r] += quantizeBlockRow(r, first, last, n, w, u, grid, blockErrors));
            DenseKernels.multiplySubtract(rows, last - first, n - last,
                    w, last, n, false,
                    blockErrors, 0, last - first,
                    u, first * n + last, n, false);
        }

        int[] codes = new int[rows * n];
        float[] dequantized = new float[rows * n];
        int[] groupIndex = new int[n];
        for (int a = 0; a < n; a++) {
            int column = order[a];
            groupIndex[column] = a / groupSize;
            for (int r = 0; r < rows; r++) {
                codes[r * n + column] = grid.codes[r * n + a];
                dequantized[r * n + column] = grid.dequantized[r * n + a];
            }
        }
        double error = 0;
        for (double e : rowError) {
            error += e;
        }
        return new Result(rows, n, groupSize, codes, grid.scales, grid.zeros, groupIndex, dequantized, error);
    }

    /**
     * Quantizes columns [first, last) of row r with the within-block updates; stores each column's
     * scaled error {@code e_j} (for the lazy update) and returns {@code Σ e_j²}.
     */
    private static double quantizeBlockRow(int r, int first, int last, int n, double[] w, double[] u,
            Grid grid, double[] blockErrors) {
        int width = last - first;
        int row = r * n;
        double loss = 0;
        for (int j = first; j < last; j++) {
            if (j % grid.groupSize == 0) {
                grid.fit(r, j, w, row + j);
            }
            double value = w[row + j];
            float q = grid.quantize(r, j, value);
            double diagonal = u[j * n + j];
            double e = (value - q) / diagonal;
            loss += e * e;
            blockErrors[r * width + j - first] = e;
            int uj = j * n;
            for (int m = j + 1; m < last; m++) {
                w[row + m] -= e * u[uj + m];
            }
        }
        return loss;
    }

    /**
     * The end of the lazy block starting at {@code start}: 128 columns on, or earlier, at the first
     * column of a group that would otherwise straddle the block's end, so that a group's
     * parameters always see fully updated weights.
     */
    static int blockEnd(int start, int n, int groupSize) {
        int end = Math.min(n, start + BLOCK_SIZE);
        int lastGroupStart = (end - 1) / groupSize * groupSize;
        return lastGroupStart > start && lastGroupStart + groupSize > end ? lastGroupStart : end;
    }

    /** Column visiting order: by descending diag(H) with act-order (ties by index), else the identity. */
    private int[] visitingOrder(double[] diag) {
        Integer[] order = IntStream.range(0, diag.length).boxed().toArray(Integer[]::new);
        if (actOrder) {
            Arrays.sort(order, Comparator.comparingDouble((Integer i) -> diag[i]).reversed());
        }
        return Arrays.stream(order).mapToInt(Integer::intValue).toArray();
    }

    /** Per-(row, group) parameters and the codes, in visiting order, with GroupQuantizer's float32 arithmetic. */
    private static final class Grid {
        final boolean symmetric;
        final int groupSize;
        final int groups;
        final int columns;
        final int qmin;
        final int qmax;
        final float[] scales;
        final int[] zeros;
        final int[] codes;
        final float[] dequantized;

        Grid(int bits, boolean symmetric, int rows, int columns, int groupSize) {
            this.symmetric = symmetric;
            this.groupSize = groupSize;
            this.columns = columns;
            groups = columns / groupSize;
            qmax = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
            qmin = symmetric ? -qmax - 1 : 0;
            scales = new float[rows * groups];
            zeros = symmetric ? null : new int[rows * groups];
            codes = new int[rows * columns];
            dequantized = new float[rows * columns];
        }

        /** Min-max parameters of row r's group starting at column j, from {@code values[at .. at + groupSize)}. */
        void fit(int r, int j, double[] values, int at) {
            int g = r * groups + j / groupSize;
            if (symmetric) {
                float absMax = 0f;
                for (int k = at; k < at + groupSize; k++) {
                    absMax = Math.max(absMax, Math.abs((float) values[k]));
                }
                scales[g] = Math.max(absMax, 1e-5f) / qmax;
                return;
            }
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int k = at; k < at + groupSize; k++) {
                float v = (float) values[k];
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            float scale = Math.max(max - min, 1e-5f) / qmax;
            scales[g] = scale;
            float ratio = min / scale;
            zeros[g] = (int) clamp(-Math.rint(ratio), 0, qmax);
        }

        /** Quantizes row r's value at visiting position j; records the code and returns the dequantized value. */
        float quantize(int r, int j, double value) {
            int g = r * groups + j / groupSize;
            float scale = scales[g];
            float ratio = (float) value / scale;
            int zero = symmetric ? 0 : zeros[g];
            int code = (int) clamp(Math.rint(ratio) + zero, qmin, qmax);
            float q = (code - zero) * scale;
            codes[r * columns + j] = code;
            dequantized[r * columns + j] = q;
            return q;
        }

        private static double clamp(double v, int lo, int hi) {
            return Math.max(lo, Math.min(hi, v));
        }
    }
}
