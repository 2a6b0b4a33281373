package dev.qig.core.engine.gptq;

import java.util.stream.IntStream;

/**
 * The one dense kernel behind the GPTQ solver: {@code C -= A · B} on row-major sub-blocks of flat
 * double arrays, in parallel over chunks of rows and tiles of columns of C. A tile of B (128 x 256)
 * and the rows of C being updated are copied into per-thread scratch arrays that stay in cache and
 * are all indexed by the same loop variable; each pass applies four depth steps to two rows of C
 * with fused multiply-adds. On JDK 17 this runs at about 6 G multiply-adds per second and core
 * (the JIT does not vectorize it; a BLAS would be several times faster). Every element of C sees
 * the same sequence of operations whatever the thread count, so results are deterministic.
 */
final class DenseKernels {

    private static final int TILE_COLUMNS = 256;
    private static final int TILE_DEPTH = 128;
    private static final int ROWS_PER_TASK = 64;
    /** Below this many multiply-adds a call stays on the calling thread. */
    private static final long PARALLEL_WORK = 1L << 18;

    /** Per thread: a tile of B (TILE_DEPTH rows) and two rows of C, each TILE_COLUMNS wide. */
    private static final ThreadLocal<double[][]> SCRATCH =
            ThreadLocal.withInitial(() -> new double[TILE_DEPTH + 2][TILE_COLUMNS]);

    private DenseKernels() {}

    /**
     * {@code C[r][j] -= Σ_p A[r][p] · B[p][j]} for rows r < rows, depth p < depth, columns j < width,
     * where {@code C[r][j] = c[cOff + r·cStride + j]}, {@code A[r][p] = a[aOff + r·aStride + p]} and
     * {@code B[p][j] = b[bOff + p·bStride + j]}.
     *
     * @param cUpper only columns j >= r of C are wanted; the column just left of the diagonal may
     *     be written too (rows are handled in pairs)
     * @param bUpper B is upper triangular ({@code B[p][j] == 0} for j < p, stored as zeros); those
     *     columns are skipped where a group of four depth steps allows
     */
    static void multiplySubtract(int rows, int depth, int width,
            double[] c, int cOff, int cStride, boolean cUpper,
            double[] a, int aOff, int aStride,
            double[] b, int bOff, int bStride, boolean bUpper) {
        if (rows <= 0 || depth <= 0 || width <= 0) {
            return;
        }
        // One task per (chunk of rows, tile of columns): enough tasks even for a 64-row panel.
        int rowChunks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        int columnTiles = (width + TILE_COLUMNS - 1) / TILE_COLUMNS;
        IntStream range = IntStream.range(0, rowChunks * columnTiles);
        if ((long) rows * depth * width >= PARALLEL_WORK) {
            range = range.parallel();
        }
        range.forEach(task -> {
            int firstRow = task / columnTiles * ROWS_PER_TASK;
            int endRow = Math.min(rows, firstRow + ROWS_PER_TASK);
            int j0 = task % columnTiles * TILE_COLUMNS;
            int j1 = Math.min(width, j0 + TILE_COLUMNS);
            if (cUpper && j1 <= firstRow) {
                return;
            }
            double[][] scratch = SCRATCH.get();
            for (int p0 = 0; p0 < depth && !(bUpper && p0 >= j1); p0 += TILE_DEPTH) {
                int p1 = Math.min(depth, p0 + TILE_DEPTH);
                for (int p = p0; p < p1; p++) {
                    System.arraycopy(b, bOff + p * bStride + j0, scratch[p - p0], 0, j1 - j0);
                }
                for (int r = firstRow; r < endRow; r += 2) {
                    int count = Math.min(2, endRow - r);
                    int from = Math.max(j0, cUpper ? r : 0);
                    if (from >= j1) {
                        break;
                    }
                    // Scratch entry k is column j0 + k for B and C alike.
                    int length = j1 - from;
                    for (int q = 0; q < count; q++) {
                        System.arraycopy(c, cOff + (r + q) * cStride + from, scratch[TILE_DEPTH + q], from - j0, length);
                    }
                    int aRow = aOff + r * aStride;
                    if (count == 2) {
                        twoRows(scratch, p0, p1, j0, from - j0, j1 - j0, bUpper, a, aRow, aStride);
                    } else {
                        oneRow(scratch, TILE_DEPTH, p0, p1, j0, from - j0, j1 - j0, bUpper, a, aRow);
                    }
                    for (int q = 0; q < count; q++) {
                        System.arraycopy(scratch[TILE_DEPTH + q], from - j0, c, cOff + (r + q) * cStride + from, length);
                    }
                }
            }
        });
    }

    /**
     * Two rows of C (scratch rows TILE_DEPTH and TILE_DEPTH + 1) against the B tile (scratch row
     * p - p0), entries k in [from, to) standing for columns j0 + k; an upper triangular B row p
     * starts at k = p - j0.
     */
    private static void twoRows(double[][] scratch, int p0, int p1, int j0, int from, int to, boolean bUpper,
            double[] a, int a0, int aStride) {
        double[] c0 = scratch[TILE_DEPTH];
        double[] c1 = scratch[TILE_DEPTH + 1];
        int a1 = a0 + aStride;
        int p = p0;
        for (; p + 4 <= p1; p += 4) {
            int start = bUpper ? Math.max(from, p - j0) : from;
            if (start >= to) {
                return;
            }
            double a00 = -a[a0 + p], a01 = -a[a0 + p + 1], a02 = -a[a0 + p + 2], a03 = -a[a0 + p + 3];
            double a10 = -a[a1 + p], a11 = -a[a1 + p + 1], a12 = -a[a1 + p + 2], a13 = -a[a1 + p + 3];
            double[] b0 = scratch[p - p0];
            double[] b1 = scratch[p + 1 - p0];
            double[] b2 = scratch[p + 2 - p0];
            double[] b3 = scratch[p + 3 - p0];
            for (int k = start; k < to; k++) {
                double x0 = b0[k], x1 = b1[k], x2 = b2[k], x3 = b3[k];
                c0[k] = Math.fma(a03, x3, Math.fma(a02, x2, Math.fma(a01, x1, Math.fma(a00, x0, c0[k]))));
                c1[k] = Math.fma(a13, x3, Math.fma(a12, x2, Math.fma(a11, x1, Math.fma(a10, x0, c1[k]))));
            }
        }
        for (; p < p1; p++) {
            int start = bUpper ? Math.max(from, p - j0) : from;
            if (start >= to) {
                return;
            }
            double v0 = -a[a0 + p], v1 = -a[a1 + p];
            double[] bp = scratch[p - p0];
            for (int k = start; k < to; k++) {
                double x = bp[k];
                c0[k] = Math.fma(v0, x, c0[k]);
                c1[k] = Math.fma(v1, x, c1[k]);
            }
        }
    }

    /** One row of C in scratch row {@code cRow}; otherwise as {@link #twoRows}. */
    private static void oneRow(double[][] scratch, int cRow, int p0, int p1, int j0, int from, int to, boolean bUpper,
            double[] a, int a0) {
        double[] c0 = scratch[cRow];
        int p = p0;
        for (; p + 4 <= p1; p += 4) {
            int start = bUpper ? Math.max(from, p - j0) : from;
            if (start >= to) {
                return;
            }
            double v0 = -a[a0 + p], v1 = -a[a0 + p + 1], v2 = -a[a0 + p + 2], v3 = -a[a0 + p + 3];
            double[] b0 = scratch[p - p0];
            double[] b1 = scratch[p + 1 - p0];
            double[] b2 = scratch[p + 2 - p0];
            double[] b3 = scratch[p + 3 - p0];
            for (int k = start; k < to; k++) {
                c0[k] = Math.fma(v3, b3[k], Math.fma(v2, b2[k], Math.fma(v1, b1[k], Math.fma(v0, b0[k], c0[k]))));
            }
        }
        for (; p < p1; p++) {
            int start = bUpper ? Math.max(from, p - j0) : from;
            if (start >= to) {
                return;
            }
            double v = -a[a0 + p];
            double[] bp = scratch[p - p0];
            for (int k = start; k < to; k++) {
                c0[k] = Math.fma(v, bp[k], c0[k]);
            }
        }
    }
}
