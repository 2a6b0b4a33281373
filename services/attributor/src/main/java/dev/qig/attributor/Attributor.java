package dev.qig.attributor;

import dev.qig.attributor.internals.AttributorStats;
import dev.qig.attributor.internals.GptqJobWorker;
import dev.qig.attributor.internals.PlanCache;
import dev.qig.attributor.internals.SampleDecoder;
import dev.qig.attributor.internals.Worker;
import dev.qig.kafka.metrics.KafkaClientMetrics;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.GptqJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The attributor service: a consumer group on the samples topic that computes, per sample and
 * served (model, scheme), QIG token attributions and the additive partial sums of the scale search,
 * under the latest plan from the plans topic. Scales out as consumer-group members (processes or
 * {@code workers} threads, each with its own model copies) up to the samples topic's partitions.
 * When it calibrates gptq or qig-gptq it also runs the aggregator's GPTQ round jobs, one at a time
 * ({@link GptqJobWorker}).
 */
public final class Attributor implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Attributor.class);
    /** Kafka's default largest record (broker message.max.bytes, producer max.request.size: about 1 MB). */
    private static final int KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

    private final AttributorConfig config;
    private final PlanCache plans;
    private final List<Worker> workers = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    /** The GPTQ round jobs' worker, when this process runs them; null otherwise. */
    private final GptqJobWorker gptq;
    private final ServiceMetrics metrics;
    private final AttributorStats stats;
    private final KafkaClientMetrics clientMetrics = new KafkaClientMetrics(KafkaClientMetrics.CONSUMER);
    private volatile boolean started;

    public Attributor(AttributorConfig config, SchemaRegistryClient registry) {
        this.config = config;
        this.metrics = ServiceMetrics.create("attributor");
        this.stats = new AttributorStats(metrics);
        metrics.registry().register(clientMetrics);
        this.plans = new PlanCache(config.kafkaClientProperties(), config.topic(Topics.Topic.PLANS),
                new AvroDeserializer<>(registry, CalibrationPlan.class), config.instanceId());
        SampleDecoder decoder = new SampleDecoder(new AvroDeserializer<>(registry, CalibrationSample.class),
                config.promptMaxChars(), config.imageMaxBytes());
        AvroSerializer<SpecificRecord> serializer = new AvroSerializer<>(registry);
        for (int i = 0; i < config.workers(); i++) {
            Worker w = new Worker(config, i, plans, decoder, serializer, stats);
            workers.add(w);
            clientMetrics.add("worker-" + i, w.loop()::consumerMetrics);
        }
        gptq = config.gptqJobsEnabled() ? new GptqJobWorker(config, new AvroDeserializer<>(registry, GptqJob.class), decoder,
                serializer, stats) : null;
        if (gptq != null) {
            clientMetrics.add("gptq", gptq.loop()::consumerMetrics);
        }
        metrics.readiness(() -> started && workers.stream().allMatch(w -> w.loop().isServing())
                && (gptq == null || gptq.loop().isServing()));
        metrics.liveness(() -> !started || threads.stream().allMatch(Thread::isAlive));
    }

    /**
     * Creates missing topics, reads the plans published so far, loads the models and joins the
     * group; returns when every worker is polling.
     */
    public void start() throws InterruptedException {
        serveMetrics();
        config.ensureTopics(Topics.Topic.SAMPLES, Topics.Topic.LAYER_STATS, Topics.Topic.TOKEN_ATTRIBUTIONS,
                Topics.Topic.PLANS, Topics.Topic.GPTQ_JOBS, Topics.Topic.CONFIGS, Topics.Topic.DLQ);
        if (config.imageMaxBytes() > KAFKA_DEFAULT_MAX_MESSAGE_BYTES) {
            // image.max.bytes guards what is decoded; inline images are bounded by Kafka's record limits first.
            LOG.info("attributor {}: images up to image.max.bytes ({} bytes) are read from file: URIs; inline, a sample "
                    + "is one record, at most the samples topic's max.message.bytes (Kafka's default about 1 MB): "
                    + "ingest dead-letters larger ones (oversize_image; docs/deployment.md, Large images)",
                    config.instanceId(), config.imageMaxBytes());
        }
        plans.start();
        if (!plans.awaitCaughtUp(2, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the plans topic could not be read within 2 minutes");
        }
        for (int i = 0; i < workers.size(); i++) {
            Thread t = new Thread(workers.get(i), "qig-attributor-" + i);
            threads.add(t);
            t.start();
        }
        if (gptq != null) {
            Thread t = new Thread(gptq, "qig-gptq");
            threads.add(t);
            t.start();
        }
        for (Worker w : workers) {
            if (!w.loop().awaitReady(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("an attributor worker did not start within 5 minutes");
            }
        }
        if (gptq != null && !gptq.loop().awaitReady(5, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the GPTQ job worker did not start within 5 minutes");
        }
        started = true;
        LOG.info("attributor {}: {} worker(s) serving {} for {}{}", config.instanceId(), workers.size(), config.models(),
                config.schemes(), gptq == null ? "" : "; GPTQ round jobs of " + config.methods().stream()
                        .filter(dev.qig.quant.Method::roundsWithGptq).map(dev.qig.quant.Method::id).toList());
    }

    private void serveMetrics() {
        try {
            metrics.serve(config.metricsPort());
            metrics.watchBroker(config.kafkaClientProperties()); // ready only while the cluster answers
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on port " + config.metricsPort(), e);
        }
    }

    /** The metrics and health endpoints of this attributor. */
    public ServiceMetrics metrics() {
        return metrics;
    }

    public AttributorStats stats() {
        return stats;
    }

    public AttributorConfig config() {
        return config;
    }

    /** Stops the workers after their current batch (its offsets are committed only if its outputs were acknowledged). */
    @Override
    public void close() {
        workers.forEach(w -> w.loop().stop());
        if (gptq != null) {
            gptq.loop().stop();
        }
        for (Thread t : threads) {
            try {
                t.join(120_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        plans.close();
        metrics.close();
    }
}
