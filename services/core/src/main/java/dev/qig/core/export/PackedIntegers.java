package dev.qig.core.export;

/**
 * The integer packing of compressed-tensors' {@code pack-quantized} format (the layout llm-compressor
 * writes and vLLM loads; followed here as of compressed-tensors 0.18.0): signed b-bit values are
 * offset by 2^(b-1) to unsigned, and each row is one little-endian bit stream over 32-bit words,
 * element i taking bits [i*b, i*b+b) (for 4 bits, element 8w+i is bits 4i..4i+3 of word w); a row
 * takes ceil(cols*b/32) words. Since 0.17.0 an element may straddle two words (3, 5, 6, 7 bits);
 * for 2, 4 and 8 bits the layout is the same as before. Weights are packed along rows (dimension 1),
 * zero points along columns (dimension 0: {@link #packColumns}).
 */
public final class PackedIntegers {

    private PackedIntegers() {}

    /** Words per row of {@code cols} values of {@code bits} bits. */
    public static int wordsPerRow(int cols, int bits) {
        checkBits(bits);
        return Math.toIntExact(((long) cols * bits + 31) / 32);
    }

    /**
     * Packs a row-major (rows x cols) matrix of signed values into (rows x wordsPerRow) int32 words.
     *
     * @throws IllegalArgumentException for a value outside [-2^(bits-1), 2^(bits-1) - 1]
     */
    public static int[] packRows(byte[] values, int rows, int cols, int bits) {
        checkShape(values.length, rows, cols);
        int words = wordsPerRow(cols, bits);
        int offset = 1 << (bits - 1);
        int[] out = new int[rows * words];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int q = values[r * cols + c];
                if (q < -offset || q >= offset) {
                    throw new IllegalArgumentException("value " + q + " at (" + r + ", " + c + ") does not fit " + bits + " bits");
                }
                long position = (long) c * bits;
                int word = r * words + (int) (position >>> 5);
                int shift = (int) (position & 31);
                int u = q + offset;
                out[word] |= u << shift;
                if (shift + bits > 32) {
                    out[word + 1] |= u >>> (32 - shift);
                }
            }
        }
        return out;
    }

    /** The inverse of {@link #packRows}: (rows x cols) signed values. */
    public static byte[] unpackRows(int[] words, int rows, int cols, int bits) {
        int perRow = wordsPerRow(cols, bits);
        checkShape(words.length, rows, perRow);
        int offset = 1 << (bits - 1);
        int mask = (1 << bits) - 1;
        byte[] out = new byte[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long position = (long) c * bits;
                int word = r * perRow + (int) (position >>> 5);
                int shift = (int) (position & 31);
                long stream = Integer.toUnsignedLong(words[word]) >>> shift;
                if (shift + bits > 32) {
                    stream |= Integer.toUnsignedLong(words[word + 1]) << (32 - shift);
                }
                out[r * cols + c] = (byte) (((int) stream & mask) - offset);
            }
        }
        return out;
    }

    /**
     * Packs along dimension 0 (compressed-tensors' {@code packed_dim=0}, used for zero points): the
     * transpose is packed by rows and transposed back, giving (wordsPerRow(rows) x cols) words.
     */
    public static int[] packColumns(byte[] values, int rows, int cols, int bits) {
        checkShape(values.length, rows, cols);
        byte[] transposed = new byte[values.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                transposed[c * rows + r] = values[r * cols + c];
            }
        }
        int[] packed = packRows(transposed, cols, rows, bits); // (cols x words)
        int words = wordsPerRow(rows, bits);
        int[] out = new int[words * cols];
        for (int c = 0; c < cols; c++) {
            for (int w = 0; w < words; w++) {
                out[w * cols + c] = packed[c * words + w];
            }
        }
        return out;
    }

    /** The inverse of {@link #packColumns}. */
    public static byte[] unpackColumns(int[] words, int rows, int cols, int bits) {
        int perColumn = wordsPerRow(rows, bits);
        checkShape(words.length, perColumn, cols);
        int[] transposed = new int[words.length];
        for (int w = 0; w < perColumn; w++) {
            for (int c = 0; c < cols; c++) {
                transposed[c * perColumn + w] = words[w * cols + c];
            }
        }
        byte[] byColumn = unpackRows(transposed, cols, rows, bits); // (cols x rows)
        byte[] out = new byte[rows * cols];
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                out[r * cols + c] = byColumn[c * rows + r];
            }
        }
        return out;
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("pack-quantized holds 1 to 8 bits, not " + bits);
        }
    }

    private static void checkShape(int length, int rows, int cols) {
        if (rows < 0 || cols < 0 || (long) rows * cols != length) {
            throw new IllegalArgumentException(length + " values are not a " + rows + " x " + cols + " matrix");
        }
    }
}
