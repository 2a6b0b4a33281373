package dev.qig.evaluator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The promotion rule on hand-made outcomes: what it promotes, what it refuses, and why. */
class PromotionRuleTest {

    private static final int N = 2000;
    private final PromotionRule rule = new PromotionRule(0.01, 0.95, 0.05);

    /** Right on every question except those with {@code i % 10 < wrongPer10}. */
    private static boolean[] outcomes(int wrongPer10) {
        boolean[] out = new boolean[N];
        for (int i = 0; i < N; i++) {
            out[i] = i % 10 >= wrongPer10;
        }
        return out;
    }

    /** {@code base} with its first {@code k} right answers turned wrong. */
    private static boolean[] losing(boolean[] base, int k) {
        boolean[] out = base.clone();
        for (int i = 0; i < N && k > 0; i++) {
            if (out[i]) {
                out[i] = false;
                k--;
            }
        }
        return out;
    }

    @Test
    void aConfigEqualToTheActiveOneIsPromoted() {
        boolean[] fp = outcomes(1);
        boolean[] active = outcomes(1);
        PromotionRule.Decision d = rule.decide(active.clone(), active, "m/w3a16/qig/v2", fp);
        assertTrue(d.promoted(), d.text());
        assertEquals(0, d.vsActive().difference(), 0);
        assertEquals(1.0, d.vsActive().pValue(), 0);
        assertTrue(d.text().startsWith("promoted") && d.text().contains("m/w3a16/qig/v2"), d.text());
    }

    @Test
    void aLossSmallerThanTheMarginIsPromoted() {
        boolean[] fp = outcomes(1);
        boolean[] candidate = losing(fp, 2); // -0.1 points on 2000 questions
        PromotionRule.Decision d = rule.decide(candidate, fp, "active", fp);
        assertTrue(d.vsActive().lower() > -0.01 && d.vsActive().lower() < 0, d.text());
        assertTrue(d.promoted(), d.text());
    }

    @Test
    void aConfigClearlyWorseThanTheActiveOneIsRefusedEvenWhenFullPrecisionWouldAllowIt() {
        PromotionRule lenientVsFp = new PromotionRule(0.01, 0.95, 1.0);
        boolean[] active = outcomes(1);
        boolean[] candidate = losing(active, 100); // -5 points
        PromotionRule.Decision d = lenientVsFp.decide(candidate, active, "active", active);
        assertEquals(-0.05, d.vsActive().difference(), 1e-12);
        assertTrue(d.vsActive().upper() < 0 && d.vsActive().pValue() < 1e-20, d.text());
        assertFalse(d.promoted(), d.text());
        assertTrue(d.text().startsWith("refused") && d.text().contains("not above -margin 0.0100"), d.text());
    }

    @Test
    void withoutAnActiveConfigFullPrecisionDecides() {
        boolean[] fp = outcomes(1);
        PromotionRule.Decision near = rule.decide(losing(fp, 20), null, null, fp); // -1 point
        assertNull(near.vsActive());
        assertTrue(near.promoted(), near.text());
        assertTrue(near.text().contains("no active config"), near.text());

        PromotionRule.Decision destroyed = rule.decide(outcomes(9), null, null, fp); // 10% against 90%
        assertFalse(destroyed.promoted(), destroyed.text());
        assertEquals(-0.8, destroyed.vsFullPrecision().difference(), 1e-12);

        // A loss of 5 points: the interval reaches below -5 points, so it is refused at max loss 0.05.
        PromotionRule.Decision atTheLimit = rule.decide(losing(fp, 100), null, null, fp);
        assertTrue(atTheLimit.vsFullPrecision().lower() < -0.05, atTheLimit.text());
        assertFalse(atTheLimit.promoted(), atTheLimit.text());
    }

    @Test
    void fullPrecisionGuardsAChainOfSmallLosses() {
        boolean[] fp = outcomes(0);
        boolean[] active = losing(fp, 200); // an active config 10 points below full precision
        PromotionRule.Decision d = rule.decide(active.clone(), active, "active", fp);
        assertTrue(d.vsActive().lower() > -0.01, "equal to the active one");
        assertFalse(d.promoted(), d.text());
        assertTrue(d.text().contains("not above -max loss vs fp32 0.0500"), d.text());
    }

    @Test
    void outcomesOfDifferentQuestionsAreNotCompared() {
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[3], null, null, new boolean[4]));
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[3], new boolean[2], "a", new boolean[3]));
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[0], null, null, new boolean[0]));
        assertThrows(IllegalArgumentException.class, () -> new PromotionRule(0.01, 1.0, 0.05));
    }
}
