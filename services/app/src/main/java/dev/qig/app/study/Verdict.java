package dev.qig.app.study;

import dev.qig.core.vqa.PairedComparison;

/**
 * What a paired comparison of a against b says, read from its confidence interval: a is better
 * when the whole interval lies on the good side of zero, worse when it lies on the bad side, and
 * not distinguishable when it holds zero.
 */
enum Verdict {
    BETTER("better"),
    NOT_DISTINGUISHABLE("not distinguishable"),
    WORSE("worse");

    private final String text;

    Verdict(String text) {
        this.text = text;
    }

    /**
     * The verdict on a minus b.
     *
     * @param higherIsBetter true for a metric such as accuracy, false for one such as KL to full precision
     */
    static Verdict of(PairedComparison c, boolean higherIsBetter) {
        if (c.lower() > 0) {
            return higherIsBetter ? BETTER : WORSE;
        }
        if (c.upper() < 0) {
            return higherIsBetter ? WORSE : BETTER;
        }
        return NOT_DISTINGUISHABLE;
    }

    String text() {
        return text;
    }
}
