package dev.qig.core.quant.gptq;

import java.util.stream.IntStream;

/**
 * The one dense kernel behind the GPTQ solver: {@code C -= A · B} on row-major sub-blocks of flat
 * double arrays, tiled for the caches, four rows by four depth steps per pass so that each load of
 * B and C serves several fused multiply-adds (which the JIT vectorizes), and run in parallel over
 * rows of C. Every element of C sees the same sequence of operations whatever the thread count, so
 * results are deterministic.
 */
final class DenseKernels {

    private static final int TILE_COLUMNS = 256;
    private static final int TILE_DEPTH = 128;
    private static final int ROWS_PER_TASK = 32;
    /** Below this many multiply-adds a call stays on the calling thread. */
    private static final long PARALLEL_WORK = 1L << 18;

    private DenseKernels() {}

    /**
     * {@code C[r][j] -= Σ_p A[r][p] · B[p][j]} for rows r < rows, depth p < depth, columns j < width,
     * where {@code C[r][j] = c[cOff + r·cStride + j]}, {@code A[r][p] = a[aOff + r·aStride + p]} and
     * {@code B[p][j] = b[bOff + p·bStride + j]}.
     *
     * @param cUpper only columns j >= r of C are wanted; columns up to three to the left of the
     *     diagonal may be written too (rows are handled in groups of four)
     * @param bUpper B is upper triangular ({@code B[p][j] == 0} for j < p, stored as zeros); those
     *     columns are skipped where a group of four allows
     */
    static void multiplySubtract(int rows, int depth, int width,
            double[] c, int cOff, int cStride, boolean cUpper,
            double[] a, int aOff, int aStride,
            double[] b, int bOff, int bStride, boolean bUpper) {
        if (rows <= 0 || depth <= 0 || width <= 0) {
            return;
        }
        int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        IntStream range = IntStream.range(0, tasks);
        if ((long) rows * depth * width >= PARALLEL_WORK) {
            range = range.parallel();
        }
        range.forEach(task -> {
            int firstRow = task * ROWS_PER_TASK;
            int endRow = Math.min(rows, firstRow + ROWS_PER_TASK);
            for (int j0 = 0; j0 < width; j0 += TILE_COLUMNS) {
                int j1 = Math.min(width, j0 + TILE_COLUMNS);
                if (cUpper && j1 <= firstRow) {
                    continue;
                }
                for (int p0 = 0; p0 < depth && !(bUpper && p0 >= j1); p0 += TILE_DEPTH) {
                    int p1 = Math.min(depth, p0 + TILE_DEPTH);
                    int r = firstRow;
                    for (; r + 4 <= endRow; r += 4) {
                        fourRows(r, p0, p1, Math.max(j0, cUpper ? r : 0), j1,
                                c, cOff + r * cStride, cStride, a, aOff + r * aStride, aStride, b, bOff, bStride, bUpper);
                    }
                    for (; r < endRow; r++) {
                        oneRow(p0, p1, Math.max(j0, cUpper ? r : 0), j1,
                                c, cOff + r * cStride, a, aOff + r * aStride, b, bOff, bStride, bUpper);
                    }
                }
            }
        });
    }

    private static void fourRows(int r, int p0, int p1, int from, int to,
            double[] c, int c0, int cStride, double[] a, int a0, int aStride,
            double[] b, int bOff, int bStride, boolean bUpper) {
        int c1 = c0 + cStride;
        int c2 = c1 + cStride;
        int c3 = c2 + cStride;
        int a1 = a0 + aStride;
        int a2 = a1 + aStride;
        int a3 = a2 + aStride;
        int p = p0;
        for (; p + 4 <= p1; p += 4) {
            int start = Math.max(from, bUpper ? p : 0);
            if (start >= to) {
                return;
            }
            double a00 = -a[a0 + p], a01 = -a[a0 + p + 1], a02 = -a[a0 + p + 2], a03 = -a[a0 + p + 3];
            double a10 = -a[a1 + p], a11 = -a[a1 + p + 1], a12 = -a[a1 + p + 2], a13 = -a[a1 + p + 3];
            double a20 = -a[a2 + p], a21 = -a[a2 + p + 1], a22 = -a[a2 + p + 2], a23 = -a[a2 + p + 3];
            double a30 = -a[a3 + p], a31 = -a[a3 + p + 1], a32 = -a[a3 + p + 2], a33 = -a[a3 + p + 3];
            int b0 = bOff + p * bStride;
            int b1 = b0 + bStride;
            int b2 = b1 + bStride;
            int b3 = b2 + bStride;
            for (int j = start; j < to; j++) {
                double x0 = b[b0 + j], x1 = b[b1 + j], x2 = b[b2 + j], x3 = b[b3 + j];
                c[c0 + j] = Math.fma(a03, x3, Math.fma(a02, x2, Math.fma(a01, x1, Math.fma(a00, x0, c[c0 + j]))));
                c[c1 + j] = Math.fma(a13, x3, Math.fma(a12, x2, Math.fma(a11, x1, Math.fma(a10, x0, c[c1 + j]))));
                c[c2 + j] = Math.fma(a23, x3, Math.fma(a22, x2, Math.fma(a21, x1, Math.fma(a20, x0, c[c2 + j]))));
                c[c3 + j] = Math.fma(a33, x3, Math.fma(a32, x2, Math.fma(a31, x1, Math.fma(a30, x0, c[c3 + j]))));
            }
        }
        for (; p < p1; p++) {
            int start = Math.max(from, bUpper ? p : 0);
            if (start >= to) {
                return;
            }
            double v0 = -a[a0 + p], v1 = -a[a1 + p], v2 = -a[a2 + p], v3 = -a[a3 + p];
            int bp = bOff + p * bStride;
            for (int j = start; j < to; j++) {
                double x = b[bp + j];
                c[c0 + j] = Math.fma(v0, x, c[c0 + j]);
                c[c1 + j] = Math.fma(v1, x, c[c1 + j]);
                c[c2 + j] = Math.fma(v2, x, c[c2 + j]);
                c[c3 + j] = Math.fma(v3, x, c[c3 + j]);
            }
        }
    }

    private static void oneRow(int p0, int p1, int from, int to,
            double[] c, int c0, double[] a, int a0, double[] b, int bOff, int bStride, boolean bUpper) {
        int p = p0;
        for (; p + 4 <= p1; p += 4) {
            int start = Math.max(from, bUpper ? p : 0);
            if (start >= to) {
                return;
            }
            double v0 = -a[a0 + p], v1 = -a[a0 + p + 1], v2 = -a[a0 + p + 2], v3 = -a[a0 + p + 3];
            int b0 = bOff + p * bStride;
            int b1 = b0 + bStride;
            int b2 = b1 + bStride;
            int b3 = b2 + bStride;
            for (int j = start; j < to; j++) {
                c[c0 + j] = Math.fma(v3, b[b3 + j], Math.fma(v2, b[b2 + j], Math.fma(v1, b[b1 + j], Math.fma(v0, b[b0 + j], c[c0 + j]))));
            }
        }
        for (; p < p1; p++) {
            int start = Math.max(from, bUpper ? p : 0);
            if (start >= to) {
                return;
            }
            double v = -a[a0 + p];
            int bp = bOff + p * bStride;
            for (int j = start; j < to; j++) {
                c[c0 + j] = Math.fma(v, b[bp + j], c[c0 + j]);
            }
        }
    }
}
