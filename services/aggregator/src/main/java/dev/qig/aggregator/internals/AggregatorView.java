package dev.qig.aggregator.internals;

import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundProgress;
import java.util.List;
import java.util.Map;

/**
 * What the HTTP endpoint reads of a running aggregator: its state and its stores, read-only. The
 * aggregator hands one to {@link QueryServer}, which so does not depend on the service's class.
 */
public interface AggregatorView {

    /** True once the stream threads run (state restored). */
    boolean isRunning();

    /** Kafka Streams' state, by name. */
    String state();

    /** Samples that close a round (round.samples). */
    int roundSamples();

    /** The progress of the open round of every round key this instance holds. */
    List<RoundProgress> rounds();

    /** The current plan of every round key this instance holds. */
    Map<String, CalibrationPlan> plans();

    /** The latest config per config key this instance holds. */
    Map<String, QuantConfig> configs();
}
