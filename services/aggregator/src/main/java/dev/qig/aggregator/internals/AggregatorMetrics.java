package dev.qig.aggregator.internals;

import dev.qig.aggregator.AggregatorConfig;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.records.RoundKey;
import dev.qig.schemas.internal.DriftCheck;
import dev.qig.schemas.internal.RoundProgress;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.function.Supplier;

/**
 * The aggregator's metrics. Counters are counted by the round processor where the events happen
 * (under exactly-once a transaction that aborts is processed again, and its events are counted
 * again: rare, after a failure); the round progress and the latest drift check are read at scrape
 * time from the round-progress store, so they are what the committed state says.
 */
public final class AggregatorMetrics {

    /** The key under which Kafka Streams hands this object to the dead-letter handler. */
    public static final String CONFIG_KEY = "qig.aggregator.metrics";

    private static final String[] KEY_LABELS = {"model", "scheme", "settings"};

    private final ServiceMetrics metrics;
    private final Counter summed;
    private final Counter duplicates;
    private final Counter partsHeld;
    private final Counter roundsClosed;
    private final Counter driftEvents;
    private final Counter configsEmitted;
    private final Counter plansPublished;
    private final Counter closeFailures;
    private final java.util.Set<RoundKey> known = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public AggregatorMetrics(ServiceMetrics metrics) {
        this.metrics = metrics;
        var r = metrics.registry();
        summed = Counter.builder().name("qig_samples_summed_total")
                .help("Samples whose partial sums were added to a round (once per sample and plan).")
                .labelNames(KEY_LABELS).register(r);
        duplicates = Counter.builder().name("qig_samples_duplicate_total")
                .help("Samples skipped because they were already summed under the plan (redeliveries).")
                .labelNames(KEY_LABELS).register(r);
        partsHeld = Counter.builder().name("qig_sample_parts_held_total")
                .help("LayerStats parts held until the rest of their sample arrived (samples cut into several records).")
                .labelNames(KEY_LABELS).register(r);
        roundsClosed = Counter.builder().name("qig_rounds_closed_total")
                .help("Rounds closed, by what closed them (count: N samples; time: the round's time limit).")
                .labelNames("model", "scheme", "settings", "closed_by").register(r);
        driftEvents = Counter.builder().name("qig_drift_events_total")
                .help("Drifts confirmed (DriftEvents published), by reason (regret, channel-shift, vision-shift, or several "
                        + "joined by '+').")
                .labelNames("model", "scheme", "settings", "reason").register(r);
        configsEmitted = Counter.builder().name("qig_configs_emitted_total")
                .help("Configs calibrated and published (one per method per calibrating round).")
                .labelNames("model", "scheme", "settings", "method").register(r);
        closeFailures = Counter.builder().name("qig_round_close_failures_total")
                .help("Attempts to close a round that failed while computing its outputs (nothing of them was applied; "
                        + "the round stays open and is tried again).").labelNames(KEY_LABELS).register(r);
        plansPublished = Counter.builder().name("qig_plans_published_total")
                .help("Calibration plans published (after the statistics round, a confirmed drift, or a refresh).")
                .labelNames(KEY_LABELS).register(r);
    }

    /** Round progress and drift statistics from the progress store, and the drift thresholds, at scrape time. */
    public void watch(Supplier<List<RoundProgress>> rounds, AggregatorConfig config) {
        metrics.registry().register(new ProgressCollector(rounds));
        AggregatorConfig.DriftThresholds t = config.driftThresholds();
        Gauge.builder().name("qig_round_target_samples").help("Samples that close a round (round.samples).")
                .register(metrics.registry()).set(config.roundSamples());
        Gauge.builder().name("qig_drift_regret_threshold").help("drift.regret.threshold.")
                .register(metrics.registry()).set(t.regret());
        Gauge.builder().name("qig_drift_channel_shift_threshold").help("drift.mu.shift.threshold.")
                .register(metrics.registry()).set(t.muShift());
        Gauge.builder().name("qig_drift_vision_shift_threshold").help("drift.vision.shift.threshold.")
                .register(metrics.registry()).set(t.visionShift());
    }

    public ServiceMetrics service() {
        return metrics;
    }

    void summed(RoundKey key) {
        summed.labelValues(labels(key)).inc();
        if (known.add(key)) {
            // The series of a round key's events at 0 from its first sample on, so that rates and dashboards have them.
            duplicates.initLabelValues(labels(key));
            partsHeld.initLabelValues(labels(key));
            plansPublished.initLabelValues(labels(key));
            closeFailures.initLabelValues(labels(key));
            for (String by : List.of("count", "time")) {
                roundsClosed.initLabelValues(key.model(), key.scheme().id(), key.settings(), by);
            }
            for (String reason : DriftMonitor.REASONS) {
                driftEvents.initLabelValues(key.model(), key.scheme().id(), key.settings(), reason);
            }
        }
    }

    void roundCloseFailed(RoundKey key) {
        closeFailures.labelValues(labels(key)).inc();
    }

    void duplicate(RoundKey key) {
        duplicates.labelValues(labels(key)).inc();
    }

    void partHeld(RoundKey key) {
        partsHeld.labelValues(labels(key)).inc();
    }

    void roundClosed(RoundKey key, String closedBy) {
        roundsClosed.labelValues(key.model(), key.scheme().id(), key.settings(), closedBy).inc();
    }

    void driftEvent(RoundKey key, String reason) {
        driftEvents.labelValues(key.model(), key.scheme().id(), key.settings(), reason).inc();
    }

    void configEmitted(RoundKey key, String method) {
        configsEmitted.labelValues(key.model(), key.scheme().id(), key.settings(), method).inc();
    }

    void planPublished(RoundKey key) {
        plansPublished.labelValues(labels(key)).inc();
    }

    void deadLettered(String reason) {
        metrics.deadLettered(reason);
    }

    private static String[] labels(RoundKey key) {
        return new String[] {key.model(), key.scheme().id(), key.settings()};
    }

    private static final class ProgressCollector implements MultiCollector {
        private final Supplier<List<RoundProgress>> rounds;

        ProgressCollector(Supplier<List<RoundProgress>> rounds) {
            this.rounds = rounds;
        }

        @Override
        public MetricSnapshots collect() {
            GaugeSnapshot.Builder round = gauge("qig_round_number", "Number of the open round (1 = the statistics round).");
            GaugeSnapshot.Builder samples = gauge("qig_round_samples", "Samples summed in the open round so far.");
            GaugeSnapshot.Builder plan = gauge("qig_round_plan_version", "Plan the open round sums under (0: statistics).");
            GaugeSnapshot.Builder dups = gauge("qig_round_duplicate_samples", "Duplicates skipped in the open round.");
            GaugeSnapshot.Builder checked = gauge("qig_drift_check_round", "Round of the latest drift check.");
            GaugeSnapshot.Builder regret = gauge("qig_drift_regret",
                    "Latest drift check: regret of the configs in force over the round's own best (loss ratio minus 1) "
                            + "over the layer groups, median or max (stat).");
            GaugeSnapshot.Builder shift = gauge("qig_drift_channel_shift",
                    "Latest drift check: shift of the round's channel means from the plan's, median or max (stat) over the groups.");
            GaugeSnapshot.Builder vision = gauge("qig_drift_vision_shift",
                    "Latest drift check: shift of the round's vision-token channel means at the first layer's input from "
                            + "the plan's.");
            GaugeSnapshot.Builder over = gauge("qig_drift_rounds_over",
                    "Consecutive rounds over a drift threshold so far (0 after a confirmed drift).");
            List<RoundProgress> all;
            try {
                all = rounds.get();
            } catch (RuntimeException e) {
                all = List.of(); // the store is not queryable (restoring, rebalancing, stopped)
            }
            for (RoundProgress p : all) {
                RoundKey key;
                try {
                    key = RoundKey.parse(p.getRoundKey());
                } catch (RuntimeException e) {
                    continue;
                }
                Labels l = Labels.of(KEY_LABELS, labels(key));
                point(round, l, p.getRound());
                point(samples, l, p.getSamples());
                point(plan, l, p.getPlanVersion());
                point(dups, l, p.getDuplicates());
                DriftCheck c = p.getLastDriftCheck();
                if (c != null) {
                    point(checked, l, c.getRound());
                    point(over, l, c.getRoundsOver());
                    Labels median = l.add("stat", "median");
                    Labels max = l.add("stat", "max");
                    if (c.getMedianRegret() != null) {
                        point(regret, median, c.getMedianRegret());
                    }
                    if (c.getMaxRegret() != null) {
                        point(regret, max, c.getMaxRegret());
                    }
                    point(shift, median, c.getMedianMuShift());
                    point(shift, max, c.getMaxMuShift());
                    if (c.getVisionShift() != null) {
                        point(vision, l, c.getVisionShift());
                    }
                }
            }
            return MetricSnapshots.of(round.build(), samples.build(), plan.build(), dups.build(), checked.build(),
                    regret.build(), shift.build(), vision.build(), over.build());
        }

        private static GaugeSnapshot.Builder gauge(String name, String help) {
            return GaugeSnapshot.builder().name(name).help(help);
        }

        private static void point(GaugeSnapshot.Builder b, Labels l, double v) {
            b.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(v).build());
        }
    }
}
