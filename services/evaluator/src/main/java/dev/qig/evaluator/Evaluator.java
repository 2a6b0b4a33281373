package dev.qig.evaluator;

import ai.djl.Device;
import dev.qig.data.VqaSample;
import dev.qig.evaluator.internals.ActiveConfigCache;
import dev.qig.evaluator.internals.ConfigDecoder;
import dev.qig.evaluator.internals.ConfigWorker;
import dev.qig.evaluator.internals.DeviceChoice;
import dev.qig.evaluator.internals.EvalSet;
import dev.qig.evaluator.internals.EvaluatorStats;
import dev.qig.kafka.metrics.KafkaClientMetrics;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.QuantConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The evaluator service: a consumer of the configs topic that applies every config to its own copy
 * of the config's model, evaluates it against full precision on labelled held-out questions, writes
 * one EvalResult per domain, and promotes the config to the active-configs topic when
 * {@link dev.qig.evaluator.internals.PromotionRule} says so. Runs on the GPU when DJL finds one.
 */
public final class Evaluator implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Evaluator.class);

    private final EvaluatorConfig config;
    private final SchemaRegistryClient registry;
    private final ActiveConfigCache actives = new ActiveConfigCache();
    private final ServiceMetrics metrics;
    private final EvaluatorStats stats;
    private final KafkaClientMetrics clientMetrics = new KafkaClientMetrics(KafkaClientMetrics.CONSUMER);
    private volatile ConfigWorker worker;
    private Thread thread;
    private volatile boolean started;

    public Evaluator(EvaluatorConfig config, SchemaRegistryClient registry) {
        this.config = config;
        this.registry = registry;
        this.metrics = ServiceMetrics.create("evaluator");
        this.stats = new EvaluatorStats(metrics, actives::all);
        metrics.registry().register(clientMetrics);
        clientMetrics.add("evaluator", () -> {
            ConfigWorker w = worker;
            return w == null ? Map.of() : w.loop().consumerMetrics();
        });
        metrics.readiness(() -> started && worker != null && worker.loop().isServing());
        metrics.liveness(() -> !started || thread.isAlive());
    }

    /**
     * Creates missing topics, restores the active configs, loads the evaluation set and the models,
     * measures full precision, and joins the group; returns when configs are being consumed.
     */
    public void start() throws InterruptedException {
        try {
            metrics.serve(config.metricsPort());
            metrics.watchBroker(config.kafkaClientProperties()); // ready only while the cluster answers
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on port " + config.metricsPort(), e);
        }
        config.ensureTopics(Topics.Topic.CONFIGS, Topics.Topic.EVAL_RESULTS, Topics.Topic.ACTIVE_CONFIGS, Topics.Topic.DLQ);
        Device device = DeviceChoice.choose(config.device());
        LOG.info("evaluator {}: device {} (setting {})", config.instanceId(), device, config.device());
        actives.restore(config, config.topic(Topics.Topic.ACTIVE_CONFIGS), new AvroDeserializer<>(registry, ActiveConfig.class));
        List<VqaSample> questions = EvalSet.load(config, new AvroDeserializer<>(registry, CalibrationSample.class));
        worker = new ConfigWorker(config, new ConfigDecoder(new AvroDeserializer<>(registry, QuantConfig.class)),
                new AvroSerializer<>(registry), actives, questions, device, stats);
        thread = new Thread(worker, "qig-evaluator");
        thread.start();
        if (!worker.loop().awaitReady(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the evaluator did not start within 10 minutes");
        }
        started = true;
        LOG.info("evaluator {}: serving {}, {} questions per domain of {}", config.instanceId(), config.models(),
                config.questionsPerDomain(), config.evalDomains());
    }

    /** The metrics and health endpoints of this evaluator. */
    public ServiceMetrics metrics() {
        return metrics;
    }

    public EvaluatorStats stats() {
        return stats;
    }

    public EvaluatorConfig config() {
        return config;
    }

    /** Stops after the current config (its offset is committed only if its results were acknowledged). */
    @Override
    public void close() {
        metrics.close();
        if (worker == null) {
            return;
        }
        worker.loop().stop();
        try {
            thread.join(300_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
