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

    /** {@code base} with its first {@code k} wrong answers turned right. */
    private static boolean[] gaining(boolean[] base, int k) {
        boolean[] out = base.clone();
        for (int i = 0; i < N && k > 0; i++) {
            if (!out[i]) {
                out[i] = true;
                k--;
            }
        }
        return out;
    }

    @Test
    void aConfigEqualToTheActiveOneDoesNotReplaceItUnlessCalibratedAfterADrift() {
        boolean[] fp = outcomes(1);
        boolean[] active = outcomes(1);
        PromotionRule.Decision same = rule.decide(active.clone(), active, "m/w3a16/qig/v2", fp, false);
        assertFalse(same.promoted(), same.text());
        assertEquals(0, same.vsActive().difference(), 0);
        assertTrue(same.text().startsWith("refused") && same.text().contains("must be shown better")
                && same.text().contains("not above +0.0000 (shown better)") && same.text().contains("m/w3a16/qig/v2"), same.text());

        PromotionRule.Decision afterDrift = rule.decide(active.clone(), active, "m/w3a16/qig/v2", fp, true);
        assertTrue(afterDrift.promoted(), afterDrift.text());
        assertTrue(afterDrift.text().contains("calibrated after a drift, so not worse suffices"), afterDrift.text());
    }

    @Test
    void aConfigShownBetterReplacesTheActiveOne() {
        boolean[] fp = outcomes(1); // 90%
        boolean[] active = losing(fp, 60); // 87%
        PromotionRule.Decision better = rule.decide(gaining(active, 60), active, "active", fp, false); // +3 points
        assertTrue(better.vsActive().lower() > 0, better.text());
        assertTrue(better.promoted(), better.text());
        // Up by a little: not shown at 95% on 2000 questions, so the active config stays.
        PromotionRule.Decision slightly = rule.decide(gaining(active, 3), active, "active", fp, false);
        assertTrue(slightly.vsActive().difference() > 0 && slightly.vsActive().lower() <= 0, slightly.text());
        assertFalse(slightly.promoted(), slightly.text());
    }

    @Test
    void afterADriftALossSmallerThanTheMarginIsPromotedAndAClearLossIsNot() {
        boolean[] fp = outcomes(1);
        PromotionRule.Decision small = rule.decide(losing(fp, 2), fp, "active", fp, true); // -0.1 points
        assertTrue(small.vsActive().lower() > -0.01 && small.vsActive().lower() < 0, small.text());
        assertTrue(small.promoted(), small.text());
        assertFalse(rule.decide(losing(fp, 2), fp, "active", fp, false).promoted(), "without a drift it must be shown better");

        PromotionRule lenientVsFp = new PromotionRule(0.01, 0.95, 1.0);
        boolean[] active = outcomes(1);
        PromotionRule.Decision worse = lenientVsFp.decide(losing(active, 100), active, "active", active, true); // -5 points
        assertEquals(-0.05, worse.vsActive().difference(), 1e-12);
        assertFalse(worse.promoted(), worse.text());
        assertTrue(worse.text().startsWith("refused") && worse.text().contains("not above -0.0100 (-margin)"), worse.text());
    }

    @Test
    void withoutAnActiveConfigFullPrecisionDecides() {
        boolean[] fp = outcomes(1);
        PromotionRule.Decision near = rule.decide(losing(fp, 20), null, null, fp, false); // -1 point
        assertNull(near.vsActive());
        assertTrue(near.promoted(), near.text());
        assertTrue(near.text().contains("no active config"), near.text());

        PromotionRule.Decision destroyed = rule.decide(outcomes(9), null, null, fp, false); // 10% against 90%
        assertFalse(destroyed.promoted(), destroyed.text());
        assertEquals(-0.8, destroyed.vsFullPrecision().difference(), 1e-12);

        // A loss of 5 points: the interval reaches below -5 points, so it is refused at max loss 0.05.
        PromotionRule.Decision atTheLimit = rule.decide(losing(fp, 100), null, null, fp, false);
        assertTrue(atTheLimit.vsFullPrecision().lower() < -0.05, atTheLimit.text());
        assertFalse(atTheLimit.promoted(), atTheLimit.text());
    }

    @Test
    void fullPrecisionGuardsAChainOfSmallLosses() {
        boolean[] fp = outcomes(0);
        boolean[] active = losing(fp, 200); // an active config 10 points below full precision
        PromotionRule.Decision d = rule.decide(active.clone(), active, "active", fp, true);
        assertTrue(d.vsActive().lower() > -0.01, "equal to the active one, after a drift");
        assertFalse(d.promoted(), d.text());
        assertTrue(d.text().contains("not above -0.0500 (-max loss vs fp32)"), d.text());
    }

    @Test
    void outcomesOfDifferentQuestionsAreNotCompared() {
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[3], null, null, new boolean[4], false));
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[3], new boolean[2], "a", new boolean[3], false));
        assertThrows(IllegalArgumentException.class, () -> rule.decide(new boolean[0], null, null, new boolean[0], false));
        assertThrows(IllegalArgumentException.class, () -> new PromotionRule(0.01, 1.0, 0.05));
    }
}
