package dev.qig.core.vqa;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ExactMatchTest {

    @Test
    void caseArticlesPunctuationAndSpacesDoNotCount() {
        assertTrue(VqaEvaluator.exactMatch("The red cube.", "red cube"));
        assertTrue(VqaEvaluator.exactMatch("  Two ", "two"));
        assertTrue(VqaEvaluator.exactMatch("left of", "left  of"));
        assertTrue(VqaEvaluator.exactMatch("it's a dog!", "it's dog"));
    }

    @Test
    void aDifferentWordCounts() {
        assertFalse(VqaEvaluator.exactMatch("red cube", "blue cube"));
        assertFalse(VqaEvaluator.exactMatch("two", "three"));
        assertFalse(VqaEvaluator.exactMatch("", "yes"));
        assertFalse(VqaEvaluator.exactMatch("theory", "ory"));
    }
}
