package dev.qig.aggregator;

import dev.qig.aggregator.internals.AggregatorMetrics;
import dev.qig.aggregator.internals.DeadLetterHandler;
import dev.qig.aggregator.internals.AggregatorView;
import dev.qig.aggregator.internals.QueryServer;
import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.metrics.KafkaClientMetrics;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.internal.RoundProgress;
import dev.qig.schemas.internal.RoundState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator service: a Kafka Streams application (exactly-once by default) that sums the
 * attributors' per-sample partial sums into rounds and publishes plans and configs, with an HTTP
 * endpoint for its rounds, plans and configs.
 */
public final class Aggregator implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Aggregator.class);

    private final AggregatorConfig config;
    private final KafkaStreams streams;
    private final ServiceMetrics metrics;
    private final AggregatorMetrics aggregatorMetrics;
    private volatile boolean started;
    private volatile boolean recoveredFromUncleanStop;
    private QueryServer http;

    public Aggregator(AggregatorConfig config, SchemaRegistryClient registry) {
        this.config = config;
        this.metrics = ServiceMetrics.create("aggregator");
        this.aggregatorMetrics = new AggregatorMetrics(metrics);
        Properties props = streamsProperties(config);
        props.put(AggregatorMetrics.CONFIG_KEY, aggregatorMetrics);
        this.streams = new KafkaStreams(AggregatorTopology.build(config, registry, aggregatorMetrics), props);
        aggregatorMetrics.watch(this::progress, config);
        KafkaClientMetrics streamsMetrics = new KafkaClientMetrics(KafkaClientMetrics.STREAMS);
        streamsMetrics.add("streams", streams::metrics);
        metrics.registry().register(streamsMetrics);
        metrics.readiness(this::isRunning);
        metrics.liveness(() -> !started || (streams.state() != KafkaStreams.State.ERROR
                && streams.state() != KafkaStreams.State.PENDING_ERROR));
    }

    /** Kafka Streams' settings: exactly-once, the dead-letter handlers, internal topics like the service's own. */
    static Properties streamsProperties(AggregatorConfig config) {
        Properties p = new Properties();
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        short rf = config.getShort(ServiceConfig.TOPICS_REPLICATION_FACTOR);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) rf);
        p.putAll(config.kafkaClientProperties());
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.getString(AggregatorConfig.APPLICATION_ID));
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, config.topic(Topics.Topic.DLQ));
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterHandler.class);
        // The global store's processor never throws (it logs and skips what it cannot read), so the handler has
        // nothing to do there; enabling it ends Kafka Streams' start-up warning, twice per start, that it is off.
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        p.put(StreamsConfig.CLIENT_ID_CONFIG, config.getString(AggregatorConfig.APPLICATION_ID) + "-" + config.instanceId());
        if (config.httpPort() > 0) {
            p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, config.httpAdvertisedHost() + ":" + config.httpPort());
        }
        return p;
    }

    /** Creates missing topics, starts the stream threads and the HTTP endpoint. */
    public void start() throws InterruptedException {
        try {
            metrics.serve(config.metricsPort());
            metrics.watchBroker(config.kafkaClientProperties()); // ready only while the cluster answers
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on port " + config.metricsPort(), e);
        }
        config.ensureTopics(AggregatorConfig.TOPICS);
        recoverFromUncleanStop();
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("aggregator stream thread failed; replacing it", e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.start();
        started = true;
        if (config.httpPort() >= 0) {
            try {
                http = QueryServer.start(config.httpPort(), view());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot serve HTTP on port " + config.httpPort(), e);
            }
            LOG.info("aggregator HTTP endpoint on port {}", http.port());
        }
    }

    /** True once the stream threads run (state restored). */
    public boolean isRunning() {
        return streams.state() == KafkaStreams.State.RUNNING;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /** The metrics and health endpoints of this aggregator. */
    public ServiceMetrics metrics() {
        return metrics;
    }

    /** Port of the HTTP endpoint, or -1 when it is off. */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    public AggregatorConfig config() {
        return config;
    }

    /** The open round of every round key this instance holds, with its latest drift check (cheap to poll). */
    public List<RoundStatus> rounds() {
        List<RoundStatus> out = new ArrayList<>();
        for (RoundProgress p : progress()) {
            var c = p.getLastDriftCheck();
            out.add(new RoundStatus(p.getRoundKey(), p.getRound(), p.getPlanVersion(), p.getSamples(), p.getDuplicates(),
                    Map.copyOf(p.getDomains()), c == null ? null : new RoundStatus.DriftStatus(c.getRound(),
                            c.getPlanVersion(), c.getMethod(), c.getMedianRegret(), c.getMedianMuShift(), c.getVisionShift(),
                            c.getRoundsOver(), c.getDriftConfirmed())));
        }
        return out;
    }

    /** The progress store's records (internal: the metrics and the HTTP endpoint read them). */
    private List<RoundProgress> progress() {
        List<RoundProgress> out = new ArrayList<>();
        try (KeyValueIterator<String, RoundProgress> it = store(RoundProcessor.PROGRESS_STORE, RoundProgress.class).all()) {
            while (it.hasNext()) {
                out.add(it.next().value);
            }
        }
        return out;
    }

    /** The current plan of every round key this instance holds (reads whole round states: not for tight loops). */
    public Map<String, CalibrationPlan> plans() {
        Map<String, CalibrationPlan> out = new HashMap<>();
        try (KeyValueIterator<String, RoundState> it = store(RoundProcessor.ROUNDS_STORE, RoundState.class).all()) {
            while (it.hasNext()) {
                RoundState s = it.next().value;
                if (s.getPlan() != null) {
                    out.put(s.getRoundKey(), s.getPlan());
                }
            }
        }
        return out;
    }

    /** The latest config per config key (round key/method) this instance holds. */
    public Map<String, QuantConfig> configs() {
        Map<String, QuantConfig> out = new HashMap<>();
        try (KeyValueIterator<String, QuantConfig> it = store(RoundProcessor.CONFIGS_STORE, QuantConfig.class).all()) {
            while (it.hasNext()) {
                KeyValue<String, QuantConfig> e = it.next();
                out.put(e.key, e.value);
            }
        }
        return out;
    }

    /** This aggregator as its HTTP endpoint reads it. */
    private AggregatorView view() {
        return new AggregatorView() {
            @Override
            public boolean isRunning() {
                return Aggregator.this.isRunning();
            }

            @Override
            public String state() {
                return streams.state().name();
            }

            @Override
            public int roundSamples() {
                return config.roundSamples();
            }

            @Override
            public List<RoundProgress> rounds() {
                return Aggregator.this.progress();
            }

            @Override
            public Map<String, CalibrationPlan> plans() {
                return Aggregator.this.plans();
            }

            @Override
            public Map<String, QuantConfig> configs() {
                return Aggregator.this.configs();
            }
        };
    }

    private <V> ReadOnlyKeyValueStore<String, V> store(String name, Class<V> type) {
        return streams.store(StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<String, V>keyValueStore()));
    }

    /**
     * Makes the next start read the layer-stats topic from its beginning and recompute every round,
     * as Kafka's streams-application-reset tool does: deletes the application's committed offsets
     * (its consumer group), its internal topics (the stores' changelogs) and this machine's local
     * state. Every instance of the application must be stopped. The partial sums are exact and a
     * round key lives in one partition, whose order the log keeps, so the recomputed rounds hold the
     * same samples and give the same plans and configs (re-published; compacted topics keep one).
     */
    public static void resetToBeginning(AggregatorConfig config) throws InterruptedException {
        String applicationId = config.getString(AggregatorConfig.APPLICATION_ID);
        try (Admin admin = Admin.create(config.kafkaClientProperties())) {
            try {
                admin.deleteConsumerGroups(List.of(applicationId)).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof GroupIdNotFoundException)) {
                    throw new IllegalStateException("cannot delete the consumer group " + applicationId
                            + " (is an instance still running?): " + e.getCause().getMessage(), e.getCause());
                }
            }
            List<String> internal = new ArrayList<>();
            for (String topic : admin.listTopics().names().get()) {
                if (topic.startsWith(applicationId + "-") && (topic.endsWith("-changelog") || topic.endsWith("-repartition"))) {
                    internal.add(topic);
                }
            }
            if (!internal.isEmpty()) {
                admin.deleteTopics(internal).all().get();
                // Deletion completes after the call returns: a start before it would restore the old rounds.
                long deadline = System.currentTimeMillis() + 60_000;
                while (admin.listTopics().names().get().stream().anyMatch(internal::contains)) {
                    if (System.currentTimeMillis() > deadline) {
                        throw new IllegalStateException("internal topics still exist a minute after their deletion: " + internal);
                    }
                    Thread.sleep(100);
                }
            }
            LOG.info("aggregator {} reset: consumer group and {} internal topic(s) deleted", applicationId, internal.size());
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot reset the aggregator " + applicationId + ": " + e.getCause().getMessage(),
                    e.getCause());
        }
        // This machine's copy of the stores: without it gone, the next start would resume from its checkpoints.
        Path local = localState(config);
        if (java.nio.file.Files.exists(local)) {
            try (var files = java.nio.file.Files.walk(local)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete the local state " + local, e);
            }
        }
    }

    /** Written into the application's state folder when a close completed; absent next to local state: a crash. */
    static final String STOPPED_CLEANLY = "qig-stopped-cleanly";

    /** This machine's folder of the application's stores: Kafka Streams' state.dir and the application id. */
    private static Path localState(AggregatorConfig config) {
        Properties props = streamsProperties(config);
        return Path.of(new StreamsConfig(props).getString(StreamsConfig.STATE_DIR_CONFIG),
                props.getProperty(StreamsConfig.APPLICATION_ID_CONFIG));
    }

    /**
     * After a crash (kill -9, OOM) under exactly-once, the local stores may hold writes of a
     * transaction that was aborted, and Kafka Streams throws them away and restores from the
     * changelogs, logging each task's TaskCorruptedException at ERROR on the way. The same recovery,
     * done here before the start with one line that says why, is what an operator should see.
     */
    private void recoverFromUncleanStop() {
        Path dir = localState(config);
        Path marker = dir.resolve(STOPPED_CLEANLY);
        try {
            boolean hasState;
            try (var entries = Files.list(dir)) {
                hasState = entries.anyMatch(Files::isDirectory); // a task's or the global store's folder
            } catch (java.nio.file.NoSuchFileException e) {
                hasState = false;
            }
            if (hasState && !Files.exists(marker)) {
                LOG.info("aggregator {}: the last run did not stop cleanly; its local state may hold uncommitted writes "
                        + "and is rebuilt from the changelog topics (the expected recovery under exactly-once)",
                        config.instanceId());
                streams.cleanUp();
                recoveredFromUncleanStop = true;
            }
            Files.deleteIfExists(marker);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the local state in " + dir, e);
        }
    }

    /** Whether the last {@link #start} found the local state of a run that did not stop cleanly, and rebuilt it. */
    public boolean recoveredFromUncleanStop() {
        return recoveredFromUncleanStop;
    }

    @Override
    public void close() {
        if (http != null) {
            http.stop();
        }
        metrics.close();
        // Leave the group, so that another instance (or this one restarted) takes the tasks at once
        // instead of after the session timeout.
        boolean closed = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(30)));
        if (closed && started) {
            try {
                Files.writeString(Files.createDirectories(localState(config)).resolve(STOPPED_CLEANLY), "");
            } catch (IOException e) {
                LOG.warn("aggregator {}: cannot mark the local state as stopped cleanly ({}); the next start rebuilds it",
                        config.instanceId(), e.toString());
            }
        }
    }
}
