package dev.qig.core.engine;

import dev.qig.quant.QuantScheme;
import static dev.qig.core.engine.QuantTestSupport.floats;
import static dev.qig.core.engine.QuantTestSupport.randomMatrix;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class QuantSchemeTest {

    @Test
    void parseIsCaseInsensitive() {
        assertSame(QuantScheme.W3A16, QuantScheme.parse("w3a16"));
        assertSame(QuantScheme.W3A16, QuantScheme.parse("W3A16"));
        assertSame(QuantScheme.W4A8, QuantScheme.parse("w4A8"));
        assertSame(QuantScheme.W4A16, QuantScheme.parse("W4a16"));
        assertSame(QuantScheme.W8A8, QuantScheme.parse("w8a8"));
        for (QuantScheme s : QuantScheme.values()) {
            assertEquals(s.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'), s.id());
            assertSame(s, QuantScheme.parse(s.id()));
            assertSame(s, QuantScheme.parse(s.name()));
        }
        assertSame(QuantScheme.W8A8_STATIC, QuantScheme.parse("W8A8-Static"));
        assertSame(QuantScheme.W8A8, QuantScheme.W8A8_STATIC.dynamicCounterpart());
        assertSame(QuantScheme.W4A8, QuantScheme.W4A8_STATIC.dynamicCounterpart());
        assertSame(QuantScheme.W3A16, QuantScheme.W3A16.dynamicCounterpart());
    }

    @Test
    void parseRejectsUnknownNamesListingTheValidOnes() {
        for (String bad : new String[] {"w2a8", "", "w4a8x", "rtn", "w4"}) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse(bad), bad);
            String msg = e.getMessage();
            assertNotNull(msg);
            assertTrue(msg.contains("'" + bad + "'"), "message should quote the bad name: " + msg);
            for (String valid : new String[] {"w3a16", "w4a8", "w4a16", "w8a8", "w2a16", "w4a4"}) {
                assertTrue(msg.contains(valid), "message should list " + valid + ": " + msg);
            }
        }
    }

    @Test
    void onlyTheA8AndA4SchemesQuantizeActivations() {
        assertTrue(QuantScheme.W4A8.quantizesActivations());
        assertTrue(QuantScheme.W8A8.quantizesActivations());
        assertTrue(QuantScheme.W4A4.quantizesActivations());
        assertFalse(QuantScheme.W2A16.quantizesActivations());
        assertEquals(4, ActivationQuantizer.of(QuantScheme.W4A4).bits());
        assertFalse(QuantScheme.W3A16.quantizesActivations());
        assertFalse(QuantScheme.W4A16.quantizesActivations());
        assertNull(ActivationQuantizer.of(QuantScheme.W3A16));
        assertNull(ActivationQuantizer.of(QuantScheme.W4A16));
        assertEquals(8, ActivationQuantizer.of(QuantScheme.W4A8).bits());
        assertEquals(8, ActivationQuantizer.of(QuantScheme.W8A8).bits());
    }

    @Test
    void weightSettingsFollowTheMethod() {
        check(QuantScheme.W3A16, 3, 128, false, 16, "W3 g128 asym");
        check(QuantScheme.W4A8, 4, 0, true, 8, "W4 per-row sym");
        check(QuantScheme.W4A16, 4, 128, false, 16, "W4 g128 asym");
        check(QuantScheme.W8A8, 8, 0, true, 8, "W8 per-row sym");
        check(QuantScheme.W2A16, 2, 64, false, 16, "W2 g64 asym");
        check(QuantScheme.W4A4, 4, 0, true, 4, "W4 per-row sym");
    }

    /**
     * The scheme's weight quantizer puts every group of every row on a grid of at most 2^bits
     * levels, and applying it again changes nothing (checked on the values, not against another
     * instance of the same class).
     */
    @ParameterizedTest
    @EnumSource(QuantScheme.class)
    void weightsLandOnAGridOfTheSchemesLevelsPerGroup(QuantScheme s) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = randomMatrix(m, 3 + s.ordinal(), 4, 256);
            float[] q = floats(GroupQuantizer.of(s).apply(w));
            int group = s.groupSize() == 0 ? 256 : s.groupSize();
            for (int row = 0; row < 4; row++) {
                for (int g = 0; g < 256 / group; g++) {
                    java.util.Set<Float> levels = new java.util.HashSet<>();
                    for (int c = 0; c < group; c++) {
                        levels.add(q[row * 256 + g * group + c]);
                    }
                    assertTrue(levels.size() <= (1 << s.weightBits()), s + " row " + row + " group " + g + ": "
                            + levels.size() + " levels");
                    assertTrue(levels.size() > 1, s + ": a random group keeps more than one level");
                }
            }
            assertArrayEquals(q, floats(GroupQuantizer.of(s).apply(m.create(q, w.getShape()))), 1e-6f,
                    s + ": idempotent");
        }
    }

    private static void check(QuantScheme s, int bits, int group, boolean sym, int aBits, String desc) {
        assertEquals(bits, s.weightBits(), s + " weight bits");
        assertEquals(group, s.groupSize(), s + " group size");
        assertEquals(sym, s.symmetric(), s + " symmetric");
        assertEquals(aBits, s.activationBits(), s + " activation bits");
        assertEquals(desc, GroupQuantizer.of(s).toString());
    }
}
