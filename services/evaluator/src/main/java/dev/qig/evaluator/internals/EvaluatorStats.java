package dev.qig.evaluator.internals;

import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.PairedComparison;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The evaluator's counters and its latest results, kept in the service's Prometheus registry (the
 * one record of what the process did, read by {@code /metrics} and by the accessors here). The
 * active configs are read at scrape time from the evaluator's own table of them.
 */
public final class EvaluatorStats {

    private static final String[] RESULT_LABELS = {"model", "scheme", "method", "domain"};
    private static final String[] PAIRED_LABELS = {"model", "scheme", "method", "domain", "against"};

    private final ServiceMetrics metrics;
    private final Counter consumed;
    private final Counter evaluated;
    private final Counter promoted;
    private final Counter refused;
    private final Histogram evalSeconds;
    private final Counter restarts;
    private final Gauge accuracy;
    private final Gauge kl;
    private final Gauge configRound;
    private final Gauge pairedDifference;
    private final Gauge pairedLower;
    private final Gauge pairedUpper;
    private final Gauge pairedPValue;

    public EvaluatorStats(ServiceMetrics metrics, Supplier<List<ActiveConfig>> actives) {
        this.metrics = metrics;
        var registry = metrics.registry();
        consumed = Counter.builder().name("qig_configs_consumed_total").help("Records read from the configs topic.")
                .register(registry);
        evaluated = Counter.builder().name("qig_configs_evaluated_total")
                .help("Configs evaluated and reported (their EvalResults acknowledged).")
                .labelNames("model", "scheme", "method").register(registry);
        promoted = Counter.builder().name("qig_promotions_total")
                .help("Configs promoted to the active-configs topic.").labelNames("model", "scheme", "method").register(registry);
        refused = Counter.builder().name("qig_configs_refused_total")
                .help("Evaluated configs not promoted (refused by the rule, already active, or older than the active one).")
                .labelNames("model", "scheme", "method").register(registry);
        evalSeconds = Histogram.builder().name("qig_evaluation_seconds")
                .help("Seconds to evaluate one config on every held-out domain (active configs evaluated again included).")
                .labelNames("model", "scheme").classicOnly()
                .classicUpperBounds(0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000).register(registry);
        restarts = Counter.builder().name("qig_consumer_restarts_total")
                .help("Times the consumer was dropped after an error and rejoined (uncommitted configs come again).")
                .register(registry);
        accuracy = Gauge.builder().name("qig_evaluation_accuracy")
                .help("Exact-match accuracy in [0, 1] of the latest evaluated config of a method (fp32: full precision) "
                        + "on a domain's held-out questions.").labelNames(RESULT_LABELS).register(registry);
        kl = Gauge.builder().name("qig_evaluation_kl_to_full_precision")
                .help("Mean KL divergence of the answer distribution to full precision, nats per answer token, of the "
                        + "latest evaluated config of a method on a domain.").labelNames(RESULT_LABELS).register(registry);
        configRound = Gauge.builder().name("qig_evaluation_config_round")
                .help("Calibration round of the latest evaluated config of a method (the one the evaluation gauges describe).")
                .labelNames("model", "scheme", "method").register(registry);
        pairedDifference = Gauge.builder().name("qig_paired_accuracy_difference")
                .help("Paired test of the latest evaluated config of a method: its accuracy minus that of fp32 or of the "
                        + "active config (against), on the same questions of a domain.").labelNames(PAIRED_LABELS).register(registry);
        pairedLower = Gauge.builder().name("qig_paired_interval_lower")
                .help("Lower end of the paired bootstrap interval of the accuracy difference.").labelNames(PAIRED_LABELS)
                .register(registry);
        pairedUpper = Gauge.builder().name("qig_paired_interval_upper")
                .help("Upper end of the paired bootstrap interval of the accuracy difference.").labelNames(PAIRED_LABELS)
                .register(registry);
        pairedPValue = Gauge.builder().name("qig_paired_p_value")
                .help("Two-sided p-value of McNemar's exact test of the paired comparison.").labelNames(PAIRED_LABELS)
                .register(registry);
        registry.register(new ActiveConfigCollector(actives));
    }

    void countConsumed() {
        consumed.inc();
    }

    void restarted() {
        restarts.inc();
    }

    void deadLettered(RejectReason reason) {
        metrics.deadLettered(reason.id());
    }

    void evaluationSeconds(String model, String scheme, double seconds) {
        evalSeconds.labelValues(model, scheme).observe(seconds);
    }

    /**
     * A model is served: its promotion, refusal and evaluation counters exist from now on at 0 for every
     * scheme and method, so that a dashboard's increase() sees the first promotion (a series that
     * first appears at 1 has no increase).
     */
    public void serving(String model) {
        for (dev.qig.quant.QuantScheme s : dev.qig.quant.QuantScheme.values()) {
            for (dev.qig.quant.Method m : dev.qig.quant.Method.values()) {
                promoted.initLabelValues(model, s.id(), m.id());
                refused.initLabelValues(model, s.id(), m.id());
                evaluated.initLabelValues(model, s.id(), m.id());
            }
        }
    }

    /** A config's results (or full precision's) once acknowledged, with the decision on it. */
    void reported(List<EvalResult> results, long round, Boolean promotedNow) {
        if (results.isEmpty()) {
            return;
        }
        EvalResult first = results.get(0);
        configRound.labelValues(first.getModel(), first.getScheme(), first.getMethod()).set(round);
        for (EvalResult r : results) {
            String[] labels = {r.getModel(), r.getScheme(), r.getMethod(), r.getDomain()};
            accuracy.labelValues(labels).set(r.getAccuracy());
            kl.labelValues(labels).set(r.getKlToFullPrecision());
            paired(labels, "fp32", r.getVsFullPrecision());
            paired(labels, "active", r.getVsActive());
        }
        if (promotedNow != null) {
            evaluated.labelValues(first.getModel(), first.getScheme(), first.getMethod()).inc();
            (promotedNow ? promoted : refused).labelValues(first.getModel(), first.getScheme(), first.getMethod()).inc();
        }
    }

    private void paired(String[] result, String against, PairedComparison c) {
        String[] l = {result[0], result[1], result[2], result[3], against};
        if (c == null) {
            pairedDifference.remove(l);
            pairedLower.remove(l);
            pairedUpper.remove(l);
            pairedPValue.remove(l);
            return;
        }
        pairedDifference.labelValues(l).set(c.getAccuracyDifference());
        pairedLower.labelValues(l).set(c.getLower());
        pairedUpper.labelValues(l).set(c.getUpper());
        if (c.getPValue() != null) {
            pairedPValue.labelValues(l).set(c.getPValue());
        } else {
            pairedPValue.remove(l);
        }
    }

    /** Config records read. */
    public long consumed() {
        return (long) consumed.get();
    }

    /** Configs evaluated and reported (their EvalResults acknowledged). */
    public long evaluated() {
        return (long) ServiceMetrics.sum(evaluated);
    }

    public long promoted() {
        return (long) ServiceMetrics.sum(promoted);
    }

    /** Evaluated configs that were not promoted (the rule refused them, or they were already active or older). */
    public long refused() {
        return (long) ServiceMetrics.sum(refused);
    }

    /** Seconds spent evaluating configs (active configs re-evaluated after a restart included). */
    public double evalSeconds() {
        return evalSeconds.collect().getDataPoints().stream().mapToDouble(HistogramSnapshot.HistogramDataPointSnapshot::getSum).sum();
    }

    /** Times the consumer was dropped after an error and rejoined (uncommitted configs come again). */
    public long restarts() {
        return (long) restarts.get();
    }

    public long deadLettered() {
        return deadLetteredByReason().values().stream().mapToLong(Long::longValue).sum();
    }

    /** Dead letters written, by reason id. */
    public Map<String, Long> deadLetteredByReason() {
        return metrics.deadLettersByReason();
    }

    /** Per (model, scheme) the active config: per group its alpha and loss, its round and when it was promoted. */
    private static final class ActiveConfigCollector implements MultiCollector {
        private final Supplier<List<ActiveConfig>> actives;

        ActiveConfigCollector(Supplier<List<ActiveConfig>> actives) {
            this.actives = actives;
        }

        @Override
        public MetricSnapshots collect() {
            GaugeSnapshot.Builder alpha = GaugeSnapshot.builder().name("qig_active_config_alpha")
                    .help("Per layer group, the alpha the active config chose (scales s = mu^alpha; 0 = plain RTN).");
            GaugeSnapshot.Builder loss = GaugeSnapshot.builder().name("qig_active_config_reconstruction_loss")
                    .help("Per layer group, the active config's method's reconstruction loss at its chosen alpha.");
            GaugeSnapshot.Builder lossAtZero = GaugeSnapshot.builder().name("qig_active_config_reconstruction_loss_at_zero")
                    .help("Per layer group, the same loss at alpha 0 (plain RTN), for comparison.");
            GaugeSnapshot.Builder round = GaugeSnapshot.builder().name("qig_active_config_round")
                    .help("Calibration round of the active config of a model and scheme (method: its method).");
            GaugeSnapshot.Builder promotedAt = GaugeSnapshot.builder().name("qig_active_config_promoted_timestamp_seconds")
                    .help("When the active config of a model and scheme was promoted, seconds since the epoch.");
            for (ActiveConfig a : actives.get()) {
                dev.qig.schemas.QuantConfig c = a.getConfig();
                Labels base = Labels.of("model", a.getModel(), "scheme", a.getScheme(), "method", c.getMethod());
                round.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(base).value(c.getRound()).build());
                promotedAt.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(base)
                        .value(a.getPromotedAt().toEpochMilli() / 1000.0).build());
                for (GroupChoice g : c.getGroups()) {
                    Labels l = base.add("layer", Integer.toString(g.getLayer())).add("group", g.getGroup());
                    alpha.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(g.getAlpha()).build());
                    loss.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(g.getLoss()).build());
                    lossAtZero.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(g.getLossAtZero()).build());
                }
            }
            return MetricSnapshots.of(alpha.build(), loss.build(), lossAtZero.build(), round.build(), promotedAt.build());
        }
    }
}
