package dev.qig.ingest;

import dev.qig.kafka.metrics.ServiceMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;

/**
 * The ingest service's metrics in a service registry. One per registry: a process that runs ingest
 * many times ({@code qig demo}: once per round) keeps one and hands it to every {@link Ingest}.
 */
public final class IngestMetrics {

    private final ServiceMetrics service;
    private final Counter samples;
    private final Gauge running;

    public IngestMetrics(ServiceMetrics service) {
        this.service = service;
        samples = Counter.builder().name("qig_samples_ingested_total")
                .help("Samples written to the samples topic and acknowledged by the broker.").register(service.registry());
        running = Gauge.builder().name("qig_ingest_running")
                .help("1 while a run sends samples, else 0.").register(service.registry());
        service.readiness(() -> true);
    }

    public ServiceMetrics service() {
        return service;
    }

    void acknowledged() {
        samples.inc();
    }

    void deadLettered(String reason) {
        service.deadLettered(reason);
    }

    void running(boolean on) {
        running.set(on ? 1 : 0);
    }

    /** Samples acknowledged so far, over every run. */
    public long ingested() {
        return (long) samples.get();
    }
}
