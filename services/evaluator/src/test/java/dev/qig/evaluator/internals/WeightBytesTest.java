package dev.qig.evaluator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.qig.quant.QuantScheme;
import org.junit.jupiter.api.Test;

/** Weight storage against sums done by hand. */
class WeightBytesTest {

    @Test
    void asymmetricGroupsPayAScaleAndAZeroPointPerGroup() {
        // 256 x 512 at 3 bits: 393,216 bits; 4 groups of 128 per row, 1024 groups: fp16 scales 16,384 bits,
        // 3-bit zero points 3,072 bits. 412,672 bits = 51,584 bytes.
        assertEquals(51_584, WeightBytes.matrix(256, 512, QuantScheme.W3A16));
        // W2 g64 on 64 x 128: 16,384 bits of weights, 128 groups x (16 + 2) bits = 2,304: 18,688 bits = 2,336 bytes.
        assertEquals(2_336, WeightBytes.matrix(64, 128, QuantScheme.W2A16));
    }

    @Test
    void symmetricPerRowSchemesPayOneScalePerRow() {
        // 64 x 100 at 4 bits: 25,600 bits + 64 scales x 16 bits = 26,624 bits = 3,328 bytes.
        assertEquals(3_328, WeightBytes.matrix(64, 100, QuantScheme.W4A8));
        // 8 bits: 51,200 + 1,024 = 52,224 bits = 6,528 bytes.
        assertEquals(6_528, WeightBytes.matrix(64, 100, QuantScheme.W8A8));
    }

    @Test
    void aGroupSizeThatDoesNotDivideTheWidthFallsBackToOneGroupPerRow() {
        // 3 x 100 with g128: one group per row. 1,200 bits + 3 x (16 + 4) = 1,260 bits = 157.5, so 158 bytes.
        assertEquals(158, WeightBytes.matrix(3, 100, QuantScheme.W4A16));
        // Bits round up to whole bytes: 1 x 3 at 3 bits, one group: 9 + 16 + 3 = 28 bits -> 4 bytes.
        assertEquals(4, WeightBytes.matrix(1, 3, QuantScheme.W3A16));
    }

    @Test
    void emptyMatricesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> WeightBytes.matrix(0, 128, QuantScheme.W3A16));
    }
}
