package dev.qig.core.engine.gptq;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The factor GPTQ works with: the upper triangular U with positive diagonal and {@code Uᵀ U = H⁻¹}
 * (the reference computes it as {@code cholesky(cholesky_inverse(cholesky(H)), upper=True)}).
 *
 * <p>Here it takes one factorization and one triangular inverse instead of three dense O(n³)
 * steps: factor {@code H = V Vᵀ} with V upper (a Cholesky run from the last row up), then
 * {@code H⁻¹ = V⁻ᵀ V⁻¹ = Uᵀ U} with {@code U = V⁻¹}, upper with a positive diagonal, so by the
 * uniqueness of Cholesky factors it is the reference's U (equal up to rounding). Both steps are
 * blocked in panels of 64 with the bulk of the work in {@link DenseKernels}; about n³/3
 * multiply-adds in all.
 */
final class InverseCholesky {

    private static final int PANEL = 64;
    /** Columns per parallel task in the in-panel part of the triangular inverse. */
    private static final int COLUMNS_PER_TASK = 512;

    private InverseCholesky() {}

    /**
     * Replaces a symmetric positive definite matrix (n x n, row-major; only its upper triangle is
     * read) by U, upper, with {@code Uᵀ U} its inverse; the lower triangle is set to zero.
     *
     * @throws ArithmeticException when the matrix is not (numerically) positive definite
     */
    static void replaceByUpperFactorOfInverse(double[] s, int n) {
        factorFromBottom(s, n);
        for (int i = 1; i < n; i++) {
            Arrays.fill(s, i * n, i * n + i, 0.0);
        }
        invertUpper(s, n);
    }

    /** {@code S = V Vᵀ}, V upper, written over the upper triangle of S; panels from the bottom right. */
    private static void factorFromBottom(double[] s, int n) {
        for (int end = n, start; end > 0; end = start) {
            start = Math.max(0, end - PANEL);
            int first = start;
            int last = end;
            // The diagonal block, from its last row up.
            for (int k = last - 1; k >= first; k--) {
                int rk = k * n;
                double d = s[rk + k];
                for (int m = k + 1; m < last; m++) {
                    d -= s[rk + m] * s[rk + m];
                }
                if (!(d > 0)) {
                    throw new ArithmeticException("matrix is not positive definite (pivot " + k + " is " + d + ")");
                }
                double vkk = Math.sqrt(d);
                s[rk + k] = vkk;
                for (int i = first; i < k; i++) {
                    s[i * n + k] = panelEntry(s, n, i, k, last) / vkk;
                }
            }
            if (first == 0) {
                break;
            }
            // The panel above it: rows i < start solve V[i, start:end] Vdᵀ = S[i, start:end].
            IntStream.range(0, first).parallel().forEach(i -> {
                for (int k = last - 1; k >= first; k--) {
                    s[i * n + k] = panelEntry(s, n, i, k, last) / s[k * n + k];
                }
            });
            // Trailing update of the rows above: S[i][j] -= Σ_p V[i][p] V[j][p], j >= i, p in the panel.
            int width = last - first;
            double[] panelT = new double[width * first];
            for (int j = 0; j < first; j++) {
                for (int p = 0; p < width; p++) {
                    panelT[p * first + j] = s[j * n + first + p];
                }
            }
            DenseKernels.multiplySubtract(first, width, first,
                    s, 0, n, true,
                    s, first, n,
                    panelT, 0, first, false);
        }
    }

    /** {@code S[i][k] - Σ_{k < m < end} V[i][m] V[k][m]}. */
    private static double panelEntry(double[] s, int n, int i, int k, int end) {
        int ri = i * n;
        int rk = k * n;
        double v = s[ri + k];
        for (int m = k + 1; m < end; m++) {
            v -= s[ri + m] * s[rk + m];
        }
        return v;
    }

    /**
     * Replaces the upper triangular V (zero below the diagonal) by {@code U = V⁻¹}, row panels from
     * the bottom: row k of U is {@code (e_k - Σ_{m > k} V[k][m] U[m]) / V[k][k]}.
     */
    private static void invertUpper(double[] s, int n) {
        double[] t = new double[Math.min(PANEL, n) * n];
        for (int end = n, start; end > 0; end = start) {
            start = Math.max(0, end - PANEL);
            int first = start;
            int last = end;
            Arrays.fill(t, 0, (last - first) * n, 0.0);
            // Rows of U below the panel are final: T[k][j] = -Σ_{m >= end} V[k][m] U[m][j].
            DenseKernels.multiplySubtract(last - first, n - last, n - last,
                    t, last, n, false,
                    s, first * n + last, n,
                    s, last * n + last, n, true);
            // Then the panel's own rows, bottom up; independent per column range.
            int tasks = (n - first + COLUMNS_PER_TASK - 1) / COLUMNS_PER_TASK;
            IntStream.range(0, tasks).parallel().forEach(task -> {
                int from = first + task * COLUMNS_PER_TASK;
                int to = Math.min(n, from + COLUMNS_PER_TASK);
                for (int k = last - 1; k >= first; k--) {
                    int tk = (k - first) * n;
                    for (int m = k + 1; m < last; m++) {
                        double v = s[k * n + m];
                        int tm = (m - first) * n;
                        for (int j = Math.max(from, m); j < to; j++) {
                            t[tk + j] -= v * t[tm + j];
                        }
                    }
                    if (k >= from && k < to) {
                        t[tk + k] = 1.0;
                    }
                    double vkk = s[k * n + k];
                    for (int j = Math.max(from, k); j < to; j++) {
                        t[tk + j] /= vkk;
                    }
                }
            });
            for (int k = first; k < last; k++) {
                System.arraycopy(t, (k - first) * n + k, s, k * n + k, n - k);
            }
        }
    }
}
