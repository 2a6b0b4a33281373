package dev.qig.aggregator;

import java.util.Map;

/**
 * The open round of one round key, as a caller of {@link Aggregator#rounds()} sees it (the
 * aggregator's own store record stays internal).
 *
 * @param roundKey model/scheme/settings
 * @param round the open round (1 = the statistics round)
 * @param planVersion the plan it sums under
 * @param samples samples summed so far
 * @param duplicates duplicates skipped so far
 * @param domains samples per domain tag
 * @param lastDrift the drift check of the latest closed search round, or null before one
 */
public record RoundStatus(String roundKey, long round, long planVersion, long samples, long duplicates,
                          Map<String, Long> domains, DriftStatus lastDrift) {

    /**
     * The drift statistics of a closed round.
     *
     * @param round the closed round
     * @param planVersion its plan
     * @param method the drift method (whose regret counts)
     * @param medianRegret median over groups of that method's regret; null when no config of it was in force
     * @param medianMuShift median over groups of the channel shift
     * @param visionShift the vision tokens' shift at the first layer; null when not measured
     * @param roundsOver consecutive rounds over a threshold, this one included
     * @param driftConfirmed this round confirmed a drift
     */
    public record DriftStatus(long round, long planVersion, String method, Double medianRegret, double medianMuShift,
                              Double visionShift, int roundsOver, boolean driftConfirmed) {}
}
