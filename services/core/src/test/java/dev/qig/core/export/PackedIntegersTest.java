package dev.qig.core.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** compressed-tensors' pack-quantized integer layout: worked examples of its rule, and round trips. */
class PackedIntegersTest {

    @Test
    void int4PacksLeastSignificantNibbleFirstAfterTheOffset() {
        byte[] q = new byte[16];
        for (int i = 0; i < 16; i++) {
            q[i] = (byte) (i - 8); // -8..7 -> nibbles 0..15
        }
        assertArrayEquals(new int[] {0x76543210, 0xFEDCBA98}, PackedIntegers.packRows(q, 1, 16, 4));
    }

    @Test
    void threeBitValuesStraddleWordsAsOneBitStream() {
        byte[] q = new byte[32];
        for (int i = 0; i < 32; i++) {
            q[i] = (byte) (i % 8 - 4); // unsigned 0..7 repeated
        }
        assertArrayEquals(new int[] {0x88FAC688, 0xC688FAC6, 0xFAC688FA}, PackedIntegers.packRows(q, 1, 32, 3));
    }

    @Test
    void everyWidthRoundTripsByRowsAndByColumns() {
        Random r = new Random(3);
        for (int bits = 1; bits <= 8; bits++) {
            int rows = 5;
            int cols = 37; // not a multiple of any word: a padded tail
            byte[] q = new byte[rows * cols];
            for (int i = 0; i < q.length; i++) {
                q[i] = (byte) (r.nextInt(1 << bits) - (1 << (bits - 1)));
            }
            int[] packed = PackedIntegers.packRows(q, rows, cols, bits);
            assertEquals(rows * ((cols * bits + 31) / 32), packed.length);
            assertArrayEquals(q, PackedIntegers.unpackRows(packed, rows, cols, bits), bits + " bits by rows");
            int[] byColumns = PackedIntegers.packColumns(q, rows, cols, bits);
            assertEquals(((rows * bits + 31) / 32) * cols, byColumns.length);
            assertArrayEquals(q, PackedIntegers.unpackColumns(byColumns, rows, cols, bits), bits + " bits by columns");
        }
    }

    @Test
    void zeroPointsPackAlongDimensionZero() {
        // 8 rows x 2 groups of int4 zero points: one word per group, rows 0..7 in its nibbles.
        byte[] zp = new byte[16];
        for (int row = 0; row < 8; row++) {
            zp[row * 2] = (byte) (row - 8);
            zp[row * 2 + 1] = (byte) row;
        }
        assertArrayEquals(new int[] {0x76543210, 0xFEDCBA98}, PackedIntegers.packColumns(zp, 8, 2, 4));
    }

    @Test
    void valuesOutsideTheWidthAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PackedIntegers.packRows(new byte[] {8}, 1, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> PackedIntegers.packRows(new byte[] {-9}, 1, 1, 4));
        assertThrows(IllegalArgumentException.class, () -> PackedIntegers.packRows(new byte[3], 1, 2, 4));
        assertThrows(IllegalArgumentException.class, () -> PackedIntegers.packRows(new byte[1], 1, 1, 9));
    }
}
