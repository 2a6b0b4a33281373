package dev.qig.evaluator.internals;

import dev.qig.core.vqa.PairedComparison;
import java.util.Locale;

/**
 * When an evaluated config replaces the active one of its (model, scheme). Every test is paired, on
 * the same questions, and reads the lower end of a bootstrap interval of an accuracy difference, so
 * a config is promoted only when the data show, at the confidence, what the rule asks; an evaluation
 * too small to show it (a wide interval) keeps the active config, the safe side for a service that
 * swaps the model in production.
 * <ul>
 *   <li>against full precision, always: lower end of (config - fp32) above {@code -maxLossVsFp32}.
 *       With no active config it decides alone; with one it stops a chain of promotions from
 *       drifting away from full precision;</li>
 *   <li>against the active config, when there is one, one of:
 *     <ul>
 *       <li>shown better: lower end of (config - active) above 0. A config of equal accuracy no
 *           longer replaces the active one (each replacement is a redeploy for nothing);</li>
 *       <li>calibrated after a drift (its plan was built on a confirmed drift) and not worse: lower
 *           end of (config - active) above {@code -margin}. The config was calibrated on the traffic
 *           now served, so a tie goes to it; the evaluator then decides on the questions of the
 *           domains that round's samples came from (ConfigWorker). Only while the active config
 *           predates that round: once one config of the round after the drift is active, the
 *           others of the round must be shown better.</li>
 *     </ul></li>
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
     * @param afterDrift whether the config was calibrated under a plan built on a confirmed drift that the
     *     active config predates (the caller tells: an earlier round's active config)
     */
    public Decision decide(boolean[] candidate, boolean[] active, String activeId, boolean[] fullPrecision, boolean afterDrift) {
        if (candidate.length == 0 || candidate.length != fullPrecision.length
                || (active != null && active.length != candidate.length)) {
            throw new IllegalArgumentException("the candidate, the active config and full precision must answer the "
                    + "same questions, at least one");
        }
        PairedComparison vsFp = PairedComparison.accuracy(candidate, fullPrecision, confidence);
        boolean fpOk = vsFp.lower() > -maxLossVsFullPrecision;
        PairedComparison vsActive = active == null ? null : PairedComparison.accuracy(candidate, active, confidence);
        // After a drift a tie goes to the config calibrated on the new traffic; otherwise it must be shown better.
        double allowed = afterDrift ? margin : 0.0;
        boolean activeOk = vsActive == null || vsActive.lower() > -allowed;
        boolean promoted = fpOk && activeOk;
        StringBuilder text = new StringBuilder(promoted ? "promoted" : "refused");
        text.append(String.format(Locale.ROOT, " on %d paired questions at %.0f%% confidence", candidate.length,
                100 * confidence));
        if (vsActive != null) {
            text.append(afterDrift ? "; calibrated after a drift, so not worse suffices" : "; not calibrated after a drift the active config predates, so it must be shown better")
                    .append("; vs active ").append(activeId).append(": ")
                    .append(describe(vsActive, allowed, afterDrift ? "-margin" : "shown better", activeOk));
        } else {
            text.append("; no active config");
        }
        text.append("; vs fp32: ").append(describe(vsFp, maxLossVsFullPrecision, "-max loss vs fp32", fpOk));
        return new Decision(promoted, vsActive, vsFp, text.toString());
    }

    private static String describe(PairedComparison c, double allowed, String what, boolean ok) {
        return String.format(Locale.ROOT,
                "accuracy difference %+.4f, paired bootstrap interval [%+.4f, %+.4f], McNemar exact p-value %.4g "
                        + "(%d/%d discordant), lower end %s %+.4f (%s)",
                c.difference(), c.lower(), c.upper(), c.pValue(), c.onlyA(), c.onlyB(), ok ? "above" : "not above",
                allowed == 0 ? 0.0 : -allowed, what);
    }
}
