package dev.qig.publisher;

import dev.qig.kafka.metrics.KafkaClientMetrics;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.io.Folders;
import dev.qig.publisher.internals.PublishWorker;
import dev.qig.publisher.internals.PublishedModels;
import dev.qig.publisher.internals.PublisherStats;
import dev.qig.publisher.internals.Stores;
import dev.qig.publisher.store.ArtifactStore;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.ModelPublished;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publisher service: a consumer of the active-configs topic that exports every promoted config,
 * applied to its model, as a checkpoint a serving engine loads (compressed-tensors, what vLLM reads),
 * commits it to an artifact store (a folder or S3-compatible storage) under
 * {@code <config id>/<content hash>}, and announces it on the published-models topic. Idempotent (a
 * redelivered promotion publishes nothing twice) and atomic (no ModelPublished points at an
 * incomplete checkpoint): see {@link dev.qig.publisher.internals.PublishWorker}.
 */
public final class Publisher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Publisher.class);

    private final PublisherConfig config;
    private final SchemaRegistryClient registry;
    private final PublishedModels published = new PublishedModels();
    private final ServiceMetrics metrics;
    private final PublisherStats stats;
    private final KafkaClientMetrics clientMetrics = new KafkaClientMetrics(KafkaClientMetrics.CONSUMER);
    private volatile PublishWorker worker;
    private ArtifactStore store;
    private Thread thread;
    private volatile boolean started;

    public Publisher(PublisherConfig config, SchemaRegistryClient registry) {
        this.config = config;
        this.registry = registry;
        this.metrics = ServiceMetrics.create("publisher");
        this.stats = new PublisherStats(metrics);
        metrics.registry().register(clientMetrics);
        clientMetrics.add("publisher", () -> {
            PublishWorker w = worker;
            return w == null ? Map.of() : w.loop().consumerMetrics();
        });
        metrics.readiness(() -> started && worker != null && worker.loop().isServing());
        metrics.liveness(() -> !started || thread.isAlive());
    }

    /**
     * Creates missing topics, opens the store and removes what interrupted uploads left there,
     * restores what was published from the published-models topic, loads the models, and joins the
     * group; returns when promotions are being consumed.
     */
    public void start() throws InterruptedException {
        try {
            metrics.serve(config.metricsPort());
            metrics.watchBroker(config.kafkaClientProperties()); // ready only while the cluster answers
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on port " + config.metricsPort(), e);
        }
        config.ensureTopics(Topics.Topic.ACTIVE_CONFIGS, Topics.Topic.PUBLISHED_MODELS, Topics.Topic.DLQ);
        store = Stores.open(config);
        try {
            // Nothing of this publisher is uploading yet; what is there was cut short by a crash.
            int removed = store.removeIncomplete();
            if (removed > 0) {
                LOG.info("publisher {}: removed {} files of interrupted uploads from {}", config.instanceId(), removed,
                        config.destination());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the store " + config.destination(), e);
        }
        try {
            // Exports a killed publisher left half written: nothing else writes here (one work folder per publisher).
            int removed = Folders.empty(config.exportWorkDir());
            if (removed > 0) {
                LOG.info("publisher {}: removed {} files of interrupted exports from {}", config.instanceId(), removed,
                        config.exportWorkDir());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the export work folder " + config.exportWorkDir(), e);
        }
        published.restore(config, config.topic(Topics.Topic.PUBLISHED_MODELS),
                new AvroDeserializer<>(registry, ModelPublished.class));
        worker = new PublishWorker(config, store, new AvroDeserializer<>(registry, ActiveConfig.class),
                new AvroSerializer<>(registry), published, stats);
        thread = new Thread(worker, "qig-publisher");
        thread.start();
        if (!worker.loop().awaitReady(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the publisher did not start within 10 minutes");
        }
        started = true;
        LOG.info("publisher {}: publishing promoted configs of {} to {} ({} published before)", config.instanceId(),
                worker.modelIds(), config.destination(), published.size());
    }

    /** The metrics and health endpoints of this publisher. */
    public ServiceMetrics metrics() {
        return metrics;
    }

    public PublisherStats stats() {
        return stats;
    }

    public PublisherConfig config() {
        return config;
    }

    /** Stops after the current promotion (its offset is committed only if its event was acknowledged), then closes the store. */
    @Override
    public void close() {
        metrics.close();
        if (worker != null) {
            worker.loop().stop();
            try {
                thread.join(300_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (store != null) {
            try {
                store.close();
            } catch (IOException e) {
                LOG.warn("closing the store {}: {}", config.destination(), e.getMessage());
            }
        }
    }
}
