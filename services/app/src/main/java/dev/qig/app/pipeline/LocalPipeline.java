package dev.qig.app.pipeline;

import dev.qig.aggregator.Aggregator;
import dev.qig.aggregator.AggregatorConfig;
import dev.qig.aggregator.RoundStatus;
import dev.qig.attributor.Attributor;
import dev.qig.attributor.AttributorConfig;
import dev.qig.data.ImageCodec;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.evaluator.Evaluator;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.publisher.Publisher;
import dev.qig.publisher.PublisherConfig;
import dev.qig.ingest.Ingest;
import dev.qig.ingest.IngestConfig;
import dev.qig.ingest.IngestMetrics;
import dev.qig.ingest.SampleSource;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.QuantConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Every service in one JVM: a real Kafka broker in process (or the one given), the in-memory
 * schema registry (or the one given), the aggregator, attributors as members of one consumer group,
 * optionally the evaluator and the publisher, and ingest on demand. What {@code qig stream}, {@code qig bench --stream} and the end-to-end tests
 * run; the services talk to each other only through Kafka.
 */
public final class LocalPipeline implements AutoCloseable {

    /** How to run it. */
    public static final class Options {
        public String model = Checkpoint.SHIPPED;
        public QuantScheme scheme = QuantScheme.W3A16;
        public Set<Method> methods = Method.scaleSearches();
        public int roundSamples = 32;
        public int planRefreshRounds = 1;
        public int attributors = 1;
        public int workers = 1;
        public int batchSize = 8;
        public int partitions = 4;
        public String bootstrapServers;
        public String registryUrl;
        public Path stateDir;
        /**
         * The aggregator's requantize.policy: every-round for round-by-round comparisons ({@code qig stream}
         * prints every round's configs and checks the last against the batch calibrator), on-drift for the service.
         */
        public String requantizePolicy = AggregatorConfig.RequantizePolicy.EVERY_ROUND.id();
        /** drift.consecutive.rounds, when not the default. */
        public Integer driftConsecutiveRounds;
        /** Run an evaluator too, on these held-out domains and questions per domain. */
        public boolean evaluator;
        public List<String> evalDomains = List.of();
        public int evalQuestions = 100;
        /**
         * Metrics and health endpoints: -1 none; 0 a free port per service; above 0 the ingest's port,
         * the first attributor's +1, the aggregator's +2, the evaluator's +3, the publisher's +4 (further attributors: free
         * ports).
         */
        public int metricsPort = -1;
        /** The attributors' stats.record.max.bytes, when not the default. */
        public Integer statsRecordMaxBytes;
        /** Run a publisher too, committing checkpoints to this folder (null: no publisher). */
        public Path publishedDir;
        /** The publisher's export.unservable: refuse, or fake-quantize schemes no engine serves. */
        public String exportUnservable = "refuse";
    }

    private final Options options;
    private final EmbeddedKafka kafka;
    private final String bootstrapServers;
    private final String registryUrl;
    private final SchemaRegistryClient registry;
    private final Path stateDir;
    private final boolean ownsStateDir;
    private final Aggregator aggregator;
    private final Evaluator evaluator;
    private final Publisher publisher;
    private final List<Attributor> attributors = new ArrayList<>();
    private final TopicWatcher watcher;
    private final RoundKey roundKey;
    private final String modelId;
    private final IngestMetrics ingestMetrics;

    private LocalPipeline(Options options) throws IOException, InterruptedException {
        this.options = options;
        this.ingestMetrics = new IngestMetrics(ServiceMetrics.create("ingest"));
        ingestMetrics.service().serve(port(0));
        this.kafka = options.bootstrapServers == null ? EmbeddedKafka.start() : null;
        this.bootstrapServers = kafka != null ? kafka.bootstrapServers() : options.bootstrapServers;
        this.registryUrl = options.registryUrl != null ? options.registryUrl : "mock://qig-local-" + UUID.randomUUID();
        this.registry = SchemaRegistries.create(Map.of(SchemaRegistries.URL, registryUrl));
        this.ownsStateDir = options.stateDir == null;
        this.stateDir = ownsStateDir ? Files.createTempDirectory("qig-streams") : options.stateDir;
        this.modelId = Checkpoint.modelId(options.model);
        this.roundKey = RoundKey.of(modelId, CalibrationSettings.defaults(options.scheme), options.methods);

        this.aggregator = new Aggregator(new AggregatorConfig(aggregatorProperties()), registry);
        aggregator.start();
        if (options.evaluator) {
            Map<String, Object> p = common("evaluator");
            p.put(ServiceConfig.METRICS_PORT, port(3));
            p.put(EvaluatorConfig.MODELS, options.model);
            p.put(EvaluatorConfig.EVAL_DOMAINS, String.join(",", options.evalDomains));
            p.put(EvaluatorConfig.EVAL_QUESTIONS_PER_DOMAIN, options.evalQuestions);
            this.evaluator = new Evaluator(new EvaluatorConfig(p), registry);
            evaluator.start();
        } else {
            this.evaluator = null;
        }
        if (options.publishedDir != null) {
            Map<String, Object> p = common("publisher");
            p.put(ServiceConfig.METRICS_PORT, port(4));
            p.put(PublisherConfig.MODELS, options.model);
            p.put(PublisherConfig.STORE_FOLDER_PATH, options.publishedDir.toString());
            p.put(PublisherConfig.EXPORT_UNSERVABLE, options.exportUnservable);
            this.publisher = new Publisher(new PublisherConfig(p), registry);
            publisher.start();
        } else {
            this.publisher = null;
        }
        for (int i = 0; i < options.attributors; i++) {
            Map<String, Object> p = common("attributor-" + i);
            p.put(ServiceConfig.METRICS_PORT, i == 0 ? port(1) : Math.min(port(1), 0));
            p.put(AttributorConfig.MODELS, options.model);
            p.put(AttributorConfig.SCHEMES, options.scheme.id());
            p.put(AttributorConfig.METHODS, String.join(",", options.methods.stream().map(Method::id).toList()));
            p.put(AttributorConfig.WORKERS, options.workers);
            p.put(AttributorConfig.BATCH_SIZE, options.batchSize);
            // Where GPTQ jobs put their weights: every service of this process reads them there.
            p.put(AttributorConfig.GPTQ_WEIGHTS_DIR, stateDir.resolve("gptq-weights").toString());
            if (options.statsRecordMaxBytes != null) {
                p.put(AttributorConfig.STATS_RECORD_MAX_BYTES, options.statsRecordMaxBytes);
            }
            Attributor a = new Attributor(new AttributorConfig(p), registry);
            a.start();
            attributors.add(a);
        }
        this.watcher = new TopicWatcher(bootstrapServers, registry, Topics.named(List.of(Topics.Topic.PLANS,
                Topics.Topic.CONFIGS, Topics.Topic.DRIFT_EVENTS, Topics.Topic.EVAL_RESULTS, Topics.Topic.ACTIVE_CONFIGS,
                Topics.Topic.PUBLISHED_MODELS, Topics.Topic.DLQ), Topics.Topic::defaultName));
    }

    public static LocalPipeline start(Options options) throws IOException, InterruptedException {
        return new LocalPipeline(options);
    }

    /** The metrics port of the service at {@code offset} (0 ingest, 1 attributor, 2 aggregator, 3 evaluator, 4 publisher). */
    private int port(int offset) {
        return options.metricsPort <= 0 ? options.metricsPort : options.metricsPort + offset;
    }

    private Map<String, Object> common(String instance) {
        Map<String, Object> p = new HashMap<>();
        p.put(ServiceConfig.METRICS_PORT, -1);
        p.put(ServiceConfig.BOOTSTRAP_SERVERS, bootstrapServers);
        p.put(ServiceConfig.SCHEMA_REGISTRY_URL, registryUrl);
        p.put(ServiceConfig.INSTANCE_ID, instance);
        p.put(ServiceConfig.TOPICS_PARTITIONS, options.partitions);
        if (kafka != null) {
            p.put(ServiceConfig.TOPICS_REPLICATION_FACTOR, (short) 1);
        }
        return p;
    }

    private Map<String, Object> aggregatorProperties() {
        Map<String, Object> p = common("aggregator");
        p.put(ServiceConfig.METRICS_PORT, port(2));
        p.put(AggregatorConfig.MODELS, modelId);
        p.put(AggregatorConfig.ROUND_SAMPLES, options.roundSamples);
        p.put(AggregatorConfig.PLAN_REFRESH_ROUNDS, options.planRefreshRounds);
        p.put(AggregatorConfig.REQUANTIZE_POLICY, options.requantizePolicy);
        if (options.driftConsecutiveRounds != null) {
            p.put(AggregatorConfig.DRIFT_CONSECUTIVE_ROUNDS, options.driftConsecutiveRounds);
        }
        p.put(AggregatorConfig.HTTP_PORT, 0);
        p.put(AggregatorConfig.APPLICATION_ID, "qig-aggregator");
        p.put("state.dir", stateDir.toString());
        p.put("commit.interval.ms", 100);
        return p;
    }

    String bootstrapServers() {
        return bootstrapServers;
    }

    String registryUrl() {
        return registryUrl;
    }

    public String modelId() {
        return modelId;
    }

    RoundKey roundKey() {
        return roundKey;
    }

    Aggregator aggregator() {
        return aggregator;
    }

    public List<Attributor> attributors() {
        return attributors;
    }

    /** Writes the samples to the samples topic through the ingest service; returns when all are acknowledged. */
    public Ingest.Summary ingest(List<VqaSample> samples, String source) throws InterruptedException {
        return ingest(samples, source, 0);
    }

    /** The same at {@code rate} samples per second (0: as fast as the broker acknowledges). */
    public Ingest.Summary ingest(List<VqaSample> samples, String source, double rate) throws InterruptedException {
        Map<String, Object> p = common("ingest");
        p.put(IngestConfig.RATE, rate);
        IngestConfig config = new IngestConfig(p);
        try (Ingest ingest = new Ingest(config, registry, SampleSource.of(samples, source), ingestMetrics)) {
            return ingest.run();
        }
    }

    /**
     * Samples as the stream sees them: their images through PNG and back (what ingest sends and an
     * attributor decodes), for a batch run that is to compare with the stream.
     */
    public static List<VisualQuestion> asStreamed(List<VqaSample> samples, dev.qig.core.vqa.VqaProcessor processor) {
        List<VisualQuestion> out = new ArrayList<>(samples.size());
        for (VqaSample s : samples) {
            out.add(VisualQuestion.of(s.id(), processor.readImage(s.toPng()), s.question(), s.answer()));
        }
        return out;
    }

    /** Waits for a plan, calling {@code tick} meanwhile. */
    public CalibrationPlan awaitPlan(long version, Duration timeout, Runnable tick) throws InterruptedException {
        return TopicWatcher.await(() -> watcher.plan(roundKey, version), timeout, tick, "plan " + version);
    }

    /** Waits for the configs of a round, by method id. */
    public Map<String, QuantConfig> awaitConfigs(long round, Duration timeout, Runnable tick) throws InterruptedException {
        return TopicWatcher.await(() -> watcher.configs(roundKey, round, options.methods.size()), timeout, tick,
                "the configs of round " + round);
    }

    /** Samples summed in the open round (0 while the aggregator restores or before the first). */
    public long roundProgress() {
        RoundStatus p = progress();
        return p == null ? 0 : p.samples();
    }

    /** The number of the open round of this pipeline's round key (0 before the aggregator runs). */
    long openRound() {
        RoundStatus p = progress();
        return p == null ? 0 : p.round();
    }

    /** The drift statistics of the latest closed search round, or null. */
    RoundStatus.DriftStatus lastDriftCheck() {
        RoundStatus p = progress();
        return p == null ? null : p.lastDrift();
    }

    private RoundStatus progress() {
        if (!aggregator.isRunning()) {
            return null;
        }
        for (RoundStatus s : aggregator.rounds()) {
            if (s.roundKey().equals(roundKey.toString())) {
                return s;
            }
        }
        return null;
    }

    /** The metrics URL of every service that serves one: ingest, attributor-N, aggregator, evaluator, publisher. */
    Map<String, String> metricsUrls() {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        put(out, "ingest", ingestMetrics.service());
        for (int i = 0; i < attributors.size(); i++) {
            put(out, attributors.size() == 1 ? "attributor" : "attributor-" + i, attributors.get(i).metrics());
        }
        put(out, "aggregator", aggregator.metrics());
        if (evaluator != null) {
            put(out, "evaluator", evaluator.metrics());
        }
        if (publisher != null) {
            put(out, "publisher", publisher.metrics());
        }
        return out;
    }

    private static void put(Map<String, String> out, String name, ServiceMetrics m) {
        if (m.metricsUrl() != null) {
            out.put(name, m.metricsUrl());
        }
    }

    TopicWatcher watcher() {
        return watcher;
    }

    long attributed() {
        return attributors.stream().mapToLong(a -> a.stats().attributed()).sum();
    }

    Map<String, Long> deadLetters() {
        return watcher.deadLetters();
    }

    @Override
    public void close() {
        watcher.close();
        attributors.forEach(Attributor::close);
        if (publisher != null) {
            publisher.close();
        }
        if (evaluator != null) {
            evaluator.close();
        }
        aggregator.close();
        ingestMetrics.service().close();
        if (kafka != null) {
            kafka.close();
        }
        if (registryUrl.startsWith("mock://")) {
            MockSchemaRegistry.drop(registryUrl.substring("mock://".length()));
        }
        if (ownsStateDir) {
            try (var files = Files.walk(stateDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException e) {
                // a temporary directory left behind
            }
        }
    }
}
