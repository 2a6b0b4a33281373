package dev.qig.attributor.internals;

import dev.qig.data.TokenModality;
import dev.qig.quant.GroupKey;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.metrics.ServiceMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The attributor's counters, shared by its workers, kept in the service's Prometheus registry: the
 * registry is the one record of what the process did, read by {@code /metrics} and by the accessors
 * here ({@code qig stream}, {@code qig demo}, tests).
 */
public final class AttributorStats {

    private final ServiceMetrics metrics;
    private final Counter consumed;
    private final Counter attributed;
    private final Histogram engineSeconds;
    private final Counter igPoints;
    private final Gauge igPointsPerSecond;
    private final Counter recomputed;
    private final Counter restarts;
    private final Gauge tokenShare;
    private final Counter gptqJobs;
    private final Histogram gptqSeconds;
    private final Gauge gptqProgress;

    public AttributorStats(ServiceMetrics metrics) {
        this.metrics = metrics;
        var registry = metrics.registry();
        consumed = Counter.builder().name("qig_samples_consumed_total")
                .help("Records read from the samples topic (good and bad).").register(registry);
        attributed = Counter.builder().name("qig_samples_attributed_total")
                .help("Samples attributed: per sample, model and scheme, its LayerStats records written (a batch whose "
                        + "outputs are not acknowledged is read and counted again).")
                .labelNames("model", "scheme").register(registry);
        engineSeconds = Histogram.builder().name("qig_attribution_seconds")
                .help("Seconds of one engine pass over a batch of samples (statistics, or the partial sums of every method "
                        + "with QIG's integrated gradients).")
                .labelNames("model", "scheme").classicOnly()
                .classicUpperBounds(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500).register(registry);
        igPoints = Counter.builder().name("qig_ig_points_total")
                .help("Integrated-gradient points evaluated: per sample, the interpolation points of every group's integral.")
                .labelNames("model", "scheme").register(registry);
        igPointsPerSecond = Gauge.builder().name("qig_ig_points_per_second")
                .help("Integrated-gradient points per second of the latest engine pass (its whole time, the other "
                        + "methods' sums included).")
                .labelNames("model", "scheme").register(registry);
        recomputed = Counter.builder().name("qig_attribution_recomputed_total")
                .help("Batches computed again because a newer plan arrived while they were computed.").register(registry);
        restarts = Counter.builder().name("qig_consumer_restarts_total")
                .help("Times a worker dropped its consumer after an error and rejoined the group (uncommitted records "
                        + "come again).").register(registry);
        tokenShare = Gauge.builder().name("qig_token_attribution_share")
                .help("Share of QIG's token weight (lambda) on the tokens of one modality (vision, prompt, answer, system), "
                        + "per layer and group, averaged over the samples of the latest batch.")
                .labelNames("model", "scheme", "layer", "group", "modality").register(registry);
        gptqJobs = Counter.builder().name("qig_gptq_jobs_total")
                .help("GPTQ round jobs run to their config (a job run again after a crash counts again).")
                .labelNames("model", "scheme", "method").register(registry);
        gptqSeconds = Histogram.builder().name("qig_gptq_job_seconds")
                .help("Seconds of one GPTQ round job: reading its samples, QIG-GPTQ's token weights, GPTQ layer by layer.")
                .labelNames("model", "scheme", "method").classicOnly()
                .classicUpperBounds(1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000).register(registry);
        gptqProgress = Gauge.builder().name("qig_gptq_job_progress")
                .help("Share of the running GPTQ job's passes done (0 to 1; 0 when none runs).").register(registry);
    }

    ServiceMetrics metrics() {
        return metrics;
    }

    void countConsumed() {
        consumed.inc();
    }

    void attributed(String model, String scheme) {
        attributed.labelValues(model, scheme).inc();
    }

    void deadLettered(RejectReason reason) {
        metrics.deadLettered(reason.id());
    }

    void countRecomputed() {
        recomputed.inc();
    }

    void restarted() {
        restarts.inc();
    }

    /** A GPTQ job ran to its config in {@code seconds}. */
    void gptqJob(String model, String scheme, String method, double seconds) {
        gptqJobs.labelValues(model, scheme, method).inc();
        gptqSeconds.labelValues(model, scheme, method).observe(seconds);
        gptqProgress.set(0);
    }

    void gptqProgress(double share) {
        gptqProgress.set(share);
    }

    /** GPTQ jobs run to their config by this process. */
    public long gptqJobs() {
        return (long) ServiceMetrics.sum(gptqJobs);
    }

    /** One engine pass: its seconds, and the integrated-gradient points it evaluated. */
    void pass(String model, String scheme, double seconds, long points) {
        engineSeconds.labelValues(model, scheme).observe(seconds);
        if (points > 0) {
            igPoints.labelValues(model, scheme).inc(points);
            igPointsPerSecond.labelValues(model, scheme).set(seconds > 0 ? points / seconds : 0);
        }
    }

    /** The mean share of each modality in each group's token weights over a batch's samples. */
    void tokenShares(String model, String scheme, List<Map<GroupKey, float[]>> lambdas, List<TokenModality[]> modalities) {
        Map<GroupKey, double[]> sums = new java.util.TreeMap<>();
        Map<GroupKey, Integer> counts = new java.util.HashMap<>();
        for (int s = 0; s < lambdas.size(); s++) {
            TokenModality[] mod = modalities.get(s);
            for (Map.Entry<GroupKey, float[]> e : lambdas.get(s).entrySet()) {
                float[] w = e.getValue();
                double[] byModality = new double[TokenModality.values().length];
                double total = 0;
                for (int t = 0; t < w.length && t < mod.length; t++) {
                    if (mod[t] != TokenModality.PAD) {
                        byModality[mod[t].ordinal()] += w[t];
                        total += w[t];
                    }
                }
                if (total <= 0 || !Double.isFinite(total)) {
                    continue;
                }
                double[] acc = sums.computeIfAbsent(e.getKey(), k -> new double[TokenModality.values().length]);
                for (int m = 0; m < acc.length; m++) {
                    acc[m] += byModality[m] / total;
                }
                counts.merge(e.getKey(), 1, Integer::sum);
            }
        }
        sums.forEach((k, acc) -> {
            int n = counts.get(k);
            for (TokenModality m : TokenModality.values()) {
                if (m != TokenModality.PAD) {
                    tokenShare.labelValues(model, scheme, Integer.toString(k.layer()), k.group().id(),
                            m.name().toLowerCase(Locale.ROOT)).set(acc[m.ordinal()] / n);
                }
            }
        });
    }

    public long consumed() {
        return (long) consumed.get();
    }

    /** Samples attributed (their LayerStats records written), counted once per sample, model and scheme. */
    public long attributed() {
        return (long) ServiceMetrics.sum(attributed);
    }

    /** Batches computed again because a newer plan arrived while they were computed. */
    public long recomputed() {
        return (long) recomputed.get();
    }

    /** Engine passes run. */
    public long batches() {
        return engineSeconds.collect().getDataPoints().stream().mapToLong(HistogramSnapshot.HistogramDataPointSnapshot::getCount).sum();
    }

    public double engineSeconds() {
        return engineSeconds.collect().getDataPoints().stream().mapToDouble(HistogramSnapshot.HistogramDataPointSnapshot::getSum).sum();
    }

    /** Times a worker dropped its consumer after an error and rejoined the group (uncommitted records come again). */
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
}
