package dev.qig.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DomainTest {

    @Test
    void parsesIdsCaseInsensitively() {
        for (Domain d : Domain.values()) {
            assertEquals(d, Domain.parse(d.id()));
            assertEquals(d, Domain.parse(d.name()));
        }
        assertEquals(Domain.LOWLIGHT, Domain.parse("LowLight"));
        assertEquals("qmix", Domain.QMIX.id());
        assertEquals("relation", QuestionType.RELATION.id());
    }

    @Test
    void unknownNameListsValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Domain.parse("foggy"));
        assertTrue(e.getMessage().contains("'foggy'") && e.getMessage().contains("clean, cluttered, lowlight, qmix"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Domain.parse(null));
    }
}
