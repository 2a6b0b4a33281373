package dev.qig.evaluator.internals;

import dev.qig.core.vqa.PairedComparison;
import java.util.Locale;

/**
 * When an evaluated config replaces the active one of its (model, scheme). Both tests are paired,
 * on the same questions (every evaluated domain together), and are non-inferiority tests: they read
 * the lower end of the bootstrap interval of an accuracy difference, so a config is promoted only
 * when the data show, at the confidence, that it loses no more than allowed. An evaluation too small
 * to show that (a wide interval) keeps the active config: the safe side for a service that swaps
 * the model in production.
 * <ul>
 *   <li>against the active config, when there is one: lower end of (config - active) above
 *       {@code -margin};</li>
 *   <li>against full precision, always: lower end of (config - fp32) above {@code -maxLossVsFp32}.
 *       With no active config it decides alone; with one it stops a chain of promotions, each
 *       within the margin of the last, from drifting away from full precision.</li>
 * </ul>
 * A config that was not evaluated has no outcomes and cannot reach this rule.
 */
public final class PromotionRule {

    /**
     * A decision and the comparisons behind it.
     *
     * @param vsActive null when there was no active config
     */
    public record Decision(boolean promoted, PairedComparison vsActive, PairedComparison vsFullPrecision, String text) {}

    private final double margin;
    private final double confidence;
    private final double maxLossVsFullPrecision;

    public PromotionRule(double margin, double confidence, double maxLossVsFullPrecision) {
        if (!(margin >= 0 && margin <= 1) || !(maxLossVsFullPrecision >= 0 && maxLossVsFullPrecision <= 1)) {
            throw new IllegalArgumentException("margin and max loss must be in [0, 1]");
        }
        if (!(confidence > 0 && confidence < 1)) {
            throw new IllegalArgumentException("confidence must be in (0, 1), got " + confidence);
        }
        this.margin = margin;
        this.confidence = confidence;
        this.maxLossVsFullPrecision = maxLossVsFullPrecision;
    }

    public double confidence() {
        return confidence;
    }

    /**
     * Decides on a config from per-question correctness, all in the same question order.
     *
     * @param active the active config's correctness, or null when the (model, scheme) has none
     * @param activeId the active config's id (for the text), or null
     */
    public Decision decide(boolean[] candidate, boolean[] active, String activeId, boolean[] fullPrecision) {
        if (candidate.length == 0 || candidate.length != fullPrecision.length
                || (active != null && active.length != candidate.length)) {
            throw new IllegalArgumentException("the candidate, the active config and full precision must answer the "
                    + "same questions, at least one");
        }
        PairedComparison vsFp = PairedComparison.accuracy(candidate, fullPrecision, confidence);
        boolean fpOk = vsFp.lower() > -maxLossVsFullPrecision;
        PairedComparison vsActive = active == null ? null : PairedComparison.accuracy(candidate, active, confidence);
        boolean activeOk = vsActive == null || vsActive.lower() > -margin;
        boolean promoted = fpOk && activeOk;
        StringBuilder text = new StringBuilder(promoted ? "promoted" : "refused");
        text.append(String.format(Locale.ROOT, " on %d paired questions at %.0f%% confidence", candidate.length,
                100 * confidence));
        if (vsActive != null) {
            text.append("; vs active ").append(activeId).append(": ")
                    .append(describe(vsActive, margin, "margin", activeOk));
        } else {
            text.append("; no active config");
        }
        text.append("; vs fp32: ").append(describe(vsFp, maxLossVsFullPrecision, "max loss vs fp32", fpOk));
        return new Decision(promoted, vsActive, vsFp, text.toString());
    }

    private static String describe(PairedComparison c, double allowed, String what, boolean ok) {
        return String.format(Locale.ROOT,
                "accuracy difference %+.4f, paired bootstrap interval [%+.4f, %+.4f], McNemar exact p-value %.4g "
                        + "(%d/%d discordant), lower end %s -%s %.4f",
                c.difference(), c.lower(), c.upper(), c.pValue(), c.onlyA(), c.onlyB(), ok ? "above" : "not above",
                what, allowed);
    }
}
