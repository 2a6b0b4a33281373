package dev.qig.publisher.internals;

import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.metrics.ServiceMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The publisher's counters, kept in the service's Prometheus registry (read by {@code /metrics} and
 * by the accessors here).
 */
public final class PublisherStats {

    /** Every reason the publisher dead-letters with: their failure series exist at 0 from the start. */
    static final List<RejectReason> REASONS = List.of(RejectReason.NOT_WIRE_FORMAT, RejectReason.UNKNOWN_SCHEMA_ID,
            RejectReason.CORRUPT_AVRO, RejectReason.MALFORMED_CONFIG, RejectReason.UNKNOWN_MODEL,
            RejectReason.UNSERVABLE_SCHEME, RejectReason.PUBLISH_FAILED, RejectReason.PROCESSING_ERROR);

    private final ServiceMetrics metrics;
    private final Counter consumed;
    private final Counter published;
    private final Counter skipped;
    private final Counter failures;
    private final Counter bytes;
    private final Counter retries;
    private final Counter restarts;
    private final Histogram publishSeconds;

    public PublisherStats(ServiceMetrics metrics) {
        this.metrics = metrics;
        var registry = metrics.registry();
        consumed = Counter.builder().name("qig_publisher_promotions_consumed_total")
                .help("Records read from the active-configs topic.").register(registry);
        published = Counter.builder().name("qig_publisher_published_total")
                .help("Checkpoints committed to the store and announced (ModelPublished acknowledged).")
                .labelNames("scheme", "method", "format").register(registry);
        skipped = Counter.builder().name("qig_publisher_skipped_duplicates_total")
                .help("Promotions of a config id already published (redelivered or promoted again): nothing exported.")
                .register(registry);
        failures = Counter.builder().name("qig_publisher_failures_total")
                .help("Promotions not published and dead-lettered, by reason (qig.errors.reason).")
                .labelNames("reason").register(registry);
        for (RejectReason r : REASONS) {
            failures.initLabelValues(r.id()); // every reason at 0, so that rates and alerts have a series
        }
        bytes = Counter.builder().name("qig_publisher_bytes_total")
                .help("Bytes of the checkpoints committed to the store (a checkpoint the store already held not counted).")
                .register(registry);
        retries = Counter.builder().name("qig_publisher_commit_retries_total")
                .help("Failed commits to the store that were tried again after a backoff.").register(registry);
        restarts = Counter.builder().name("qig_publisher_consumer_restarts_total")
                .help("Times the consumer was dropped after an error and rejoined (uncommitted promotions come again).")
                .register(registry);
        publishSeconds = Histogram.builder().name("qig_publisher_publish_seconds")
                .help("Seconds to publish one promotion: export, commit to the store (retries included) and the "
                        + "acknowledged ModelPublished.")
                .classicOnly().classicUpperBounds(0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
                .register(registry);
    }

    void countConsumed() {
        consumed.inc();
    }

    void restarted() {
        restarts.inc();
    }

    void skippedDuplicate() {
        skipped.inc();
    }

    void retried() {
        retries.inc();
    }

    void failed(RejectReason reason) {
        failures.labelValues(reason.id()).inc();
        metrics.deadLettered(reason.id());
    }

    void published(String scheme, String method, String format, long uploadedBytes, double seconds) {
        published.labelValues(scheme, method, format).inc();
        bytes.inc(uploadedBytes);
        publishSeconds.observe(seconds);
    }

    /** Records read from the active-configs topic. */
    public long consumed() {
        return (long) consumed.get();
    }

    /** Checkpoints published (committed and announced). */
    public long published() {
        return (long) ServiceMetrics.sum(published);
    }

    /** Checkpoints published, by format id (pack-quantized, int-quantized, fake-quantized). */
    public Map<String, Long> publishedByFormat() {
        Map<String, Long> out = new TreeMap<>();
        published.collect().getDataPoints().forEach(p -> out.merge(p.getLabels().get("format"), (long) p.getValue(), Long::sum));
        return out;
    }

    public long skippedDuplicates() {
        return (long) skipped.get();
    }

    /** Dead-lettered promotions, by reason id (reasons without any left out). */
    public Map<String, Long> failuresByReason() {
        Map<String, Long> out = new TreeMap<>();
        failures.collect().getDataPoints().forEach(p -> {
            if (p.getValue() > 0) {
                out.put(p.getLabels().get("reason"), (long) p.getValue());
            }
        });
        return out;
    }

    public long failures() {
        return (long) ServiceMetrics.sum(failures);
    }

    public long bytes() {
        return (long) bytes.get();
    }

    public long commitRetries() {
        return (long) retries.get();
    }

    /** Times the consumer was dropped after an error and rejoined. */
    public long restarts() {
        return (long) restarts.get();
    }

    /** Seconds spent publishing, over every published promotion. */
    public double publishSeconds() {
        return publishSeconds.collect().getDataPoints().stream()
                .mapToDouble(HistogramSnapshot.HistogramDataPointSnapshot::getSum).sum();
    }
}
