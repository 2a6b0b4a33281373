package dev.qig.ingest;

import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest service: reads samples from a {@link SampleSource} and writes them to the samples
 * topic (key = sample id as a string, value = {@link CalibrationSample} in the Confluent wire
 * format), and what the source rejects to the dead-letter topic, stage {@value #STAGE}. It is the
 * entry of the pipeline, so it does not lose data quietly: the producer is idempotent with
 * {@code acks=all}, and {@link #run} returns only when the broker has acknowledged every record,
 * or throws naming the sample that was not.
 *
 * <p>One {@code run} per instance; {@link #stop} ends it early from any thread (what was sent is
 * still flushed and acknowledged), {@link #close} releases the producer and the source.
 */
public final class Ingest implements AutoCloseable {

    /** The stage name on this service's dead letters. */
    public static final String STAGE = "ingest";

    private static final Logger log = LoggerFactory.getLogger(Ingest.class);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    /**
     * What a run did.
     *
     * @param samplesSent  samples written and acknowledged
     * @param deadLettered source inputs written to the dead-letter topic
     * @param seconds      wall time of the run, topic creation included
     * @param stopped      whether {@link #stop} ended the run before the source was exhausted
     */
    public record Summary(long samplesSent, long deadLettered, double seconds, boolean stopped) {
    }

    private final IngestConfig config;
    private final SampleSource source;
    // One producer for samples and dead letters (one idempotent producer id, one set of
    // connections); values are serialized here, with the serializers the topics prescribe.
    private final KafkaProducer<byte[], byte[]> producer;
    private final org.apache.kafka.common.serialization.Serializer<String> keySerializer;
    private final AvroSerializer<CalibrationSample> valueSerializer;
    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicLong acknowledged = new AtomicLong();
    private final AtomicReference<KafkaException> failure = new AtomicReference<>();
    /** Samples the broker refused as too large (its max.message.bytes), to be dead-lettered by the sending thread. */
    private final java.util.concurrent.ConcurrentLinkedQueue<SampleSource.Rejected> refusedBySize =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** The producer's max.request.size: a record larger than this is refused before it is sent. */
    private final int maxRequestSize;
    private final IngestMetrics metrics;
    private final boolean ownsMetrics;

    /** The configured source, with a registry client built from the config. */
    public Ingest(IngestConfig config) {
        this(config, SchemaRegistries.create(config.registryProperties()));
    }

    /** The configured source, with a given registry client (e.g. one in-memory registry shared in the JVM). */
    public Ingest(IngestConfig config, SchemaRegistryClient registry) {
        this(config, registry, SampleSource.of(config));
    }

    /**
     * Samples from {@code source}; the config gives the cluster, the topics, the rate. Closes the source on
     * {@link #close}. Serves its own metrics on {@value dev.qig.kafka.config.ServiceConfig#METRICS_PORT} while it runs.
     */
    public Ingest(IngestConfig config, SchemaRegistryClient registry, SampleSource source) {
        this(config, registry, source, null);
    }

    /**
     * The same, counting in {@code metrics} (which the caller serves and keeps across runs) instead of
     * serving metrics of its own; null: its own.
     */
    public Ingest(IngestConfig config, SchemaRegistryClient registry, SampleSource source, IngestMetrics metrics) {
        this.config = Objects.requireNonNull(config, "config");
        this.ownsMetrics = metrics == null;
        this.metrics = metrics != null ? metrics : new IngestMetrics(ServiceMetrics.create("ingest"));
        this.source = Objects.requireNonNull(source, "source");
        this.valueSerializer = new AvroSerializer<>(Objects.requireNonNull(registry, "registry"));
        this.keySerializer = config.keyFormat().serializer(registry);
        Map<String, Object> props = config.kafkaClientProperties();
        props.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "qig-ingest-" + config.instanceId());
        // Not overridable: the samples are the pipeline's input, a lost or duplicated one skews a round.
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        this.maxRequestSize = Integer.parseInt(String.valueOf(props.getOrDefault(ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                ProducerConfig.configDef().defaultValues().get(ProducerConfig.MAX_REQUEST_SIZE_CONFIG))));
        this.producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** {@link #run(LongConsumer)} without progress reports. */
    public Summary run() throws InterruptedException {
        return run(sent -> { });
    }

    /**
     * Creates the samples and dead-letter topics when missing (and waits for their leaders, see
     * {@code Topics.ensure}), sends every item of the source
     * (paced to {@value IngestConfig#RATE} when it is above 0), flushes and waits for every
     * acknowledgement.
     *
     * @param progress called on this thread after each sample is handed to the producer, with the
     *                 number of samples sent so far
     * @throws KafkaException when a record is not acknowledged, naming its sample id (or dead letter key)
     * @throws IllegalStateException on a second call
     */
    public Summary run(LongConsumer progress) throws InterruptedException {
        Objects.requireNonNull(progress, "progress");
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("an Ingest runs once; build a new one");
        }
        long start = System.nanoTime();
        if (ownsMetrics) {
            try {
                metrics.service().serve(config.metricsPort());
                metrics.service().watchBroker(config.kafkaClientProperties()); // ready only while the cluster answers
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot serve metrics on port " + config.metricsPort(), e);
            }
        }
        metrics.running(true);
        try {
            return send(progress, start);
        } finally {
            metrics.running(false);
        }
    }

    private Summary send(LongConsumer progress, long start) throws InterruptedException {
        config.ensureTopics(Topics.Topic.SAMPLES, Topics.Topic.DLQ);
        String samplesTopic = config.topic(Topics.Topic.SAMPLES);
        String dlqTopic = config.topic(Topics.Topic.DLQ);
        Pacer pacer = config.rate() > 0 ? new Pacer(config.rate(), stopSignal) : null;
        long sent = 0;
        long deadLettered = 0;
        boolean stopped = false;
        while (true) {
            if (stopSignal.getCount() == 0) {
                stopped = true;
                break;
            }
            Optional<SampleSource.Item> next = source.next();
            if (next.isEmpty()) {
                break;
            }
            SampleSource.Item item = next.get();
            if (item instanceof SampleSource.Sample s) {
                if (pacer != null && !pacer.await()) {
                    stopped = true;
                    break;
                }
                SampleSource.Rejected tooLarge = send(samplesTopic, s.value());
                if (tooLarge == null) {
                    sent++;
                    progress.accept(sent);
                } else {
                    sendDeadLetter(dlqTopic, tooLarge);
                    deadLettered++;
                }
            } else if (item instanceof SampleSource.Rejected r) {
                sendDeadLetter(dlqTopic, r);
                deadLettered++;
            }
            int refused = deadLetterRefused(dlqTopic);
            sent -= refused;
            deadLettered += refused;
            throwIfFailed();
        }
        producer.flush();
        int refused = deadLetterRefused(dlqTopic); // the broker's answers to the last sends came with the flush
        if (refused > 0) {
            sent -= refused;
            deadLettered += refused;
            producer.flush();
        }
        throwIfFailed();
        long expected = sent + deadLettered;
        if (acknowledged.get() != expected) {
            // flush() returns after every callback has run, so this would be a client bug.
            throw new KafkaException("flushed, but only " + acknowledged.get() + " of " + expected
                    + " records were acknowledged");
        }
        Summary summary = new Summary(sent, deadLettered, (System.nanoTime() - start) / 1e9, stopped);
        log.info("ingest {}: {} samples to {}, {} dead letters to {} in {} s{}", config.instanceId(), sent,
                samplesTopic, deadLettered, dlqTopic, String.format("%.1f", summary.seconds()),
                stopped ? " (stopped)" : "");
        return summary;
    }

    /** The metrics this instance counts in. */
    public IngestMetrics metrics() {
        return metrics;
    }

    /** Ends {@link #run} after the current record; callable from any thread, any number of times. */
    public void stop() {
        stopSignal.countDown();
    }

    /** Stops a run, then closes the producer (waiting for what is in flight) and the source. Call it after run has returned. */
    @Override
    public void close() {
        stop();
        try {
            producer.close(CLOSE_TIMEOUT);
        } finally {
            source.close();
            if (ownsMetrics) {
                metrics.service().close();
            }
        }
    }

    /**
     * Sends a sample; returns its dead letter instead when its record is larger than the producer may
     * send (max.request.size). A record the broker refuses as too large (its max.message.bytes) is
     * dead-lettered too, from the sending thread, after the callback queued it.
     */
    private SampleSource.Rejected send(String topic, CalibrationSample sample) {
        String id = sample.getSampleId();
        String what = "sample " + id;
        try {
            byte[] key = keySerializer.serialize(topic, id);
            byte[] value = valueSerializer.serialize(topic, sample);
            // The record's size as the producer checks it: key, value and the batch's headers (under 128 bytes).
            if (key.length + value.length + 128 > maxRequestSize) {
                return oversize(topic, sample, key, value.length, "exceeds the producer's max.request.size of "
                        + maxRequestSize + " bytes");
            }
            ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, key, value);
            int size = value.length;
            producer.send(record, (metadata, error) -> {
                if (error instanceof org.apache.kafka.common.errors.RecordTooLargeException) {
                    refusedBySize.add(oversize(topic, sample, key, size, "was refused by the broker as too large ("
                            + error.getMessage() + ")"));
                    return;
                }
                acknowledge(what, topic, error);
                if (error == null) {
                    metrics.acknowledged();
                }
            });
            return null;
        } catch (KafkaException e) {
            throw new KafkaException(what + ": cannot send to " + topic + ": " + e.getMessage(), e);
        }
    }

    /**
     * The dead letter of a sample too large for a record: the sample without its image bytes (the
     * dead-letter topic has the same limit), with the image's size in the message.
     */
    private SampleSource.Rejected oversize(String topic, CalibrationSample sample, byte[] key, int bytes, String why) {
        int image = sample.getImage() == null ? 0 : sample.getImage().remaining();
        CalibrationSample stripped = CalibrationSample.newBuilder(sample).setImage(null).build();
        String message = "sample " + sample.getSampleId() + ": its record of " + bytes + " bytes (image " + image
                + " bytes) " + why + "; send large images by file: URI, or raise max.request.size here and the "
                + "topic's max.message.bytes (docs/deployment.md)";
        RejectReason reason = image > 0 ? RejectReason.OVERSIZE_IMAGE : RejectReason.OVERSIZE_PROMPT;
        return new SampleSource.Rejected(key, valueSerializer.serialize(topic, stripped), reason,
                new RejectedRecordException(reason, message));
    }

    /** Dead-letters the samples the broker refused as too large since the last call; returns how many (sent, not samples). */
    private int deadLetterRefused(String dlqTopic) {
        int n = 0;
        for (SampleSource.Rejected r; (r = refusedBySize.poll()) != null; n++) {
            sendDeadLetter(dlqTopic, r);
        }
        return n;
    }

    private void sendDeadLetter(String topic, SampleSource.Rejected r) {
        String what = "dead letter " + (r.key() == null ? "(no key)" : new String(r.key(), java.nio.charset.StandardCharsets.UTF_8));
        log.warn("ingest: {} ({}): {}", what, r.reason().id(), r.error().getMessage());
        metrics.deadLettered(r.reason().id());
        try {
            producer.send(DeadLetters.to(topic).key(r.key()).value(r.value()).reason(r.reason()).stage(STAGE).error(r.error())
                            .build(),
                    (metadata, error) -> acknowledge(what, topic, error));
        } catch (KafkaException e) {
            throw new KafkaException(what + ": cannot send to " + topic + ": " + e.getMessage(), e);
        }
    }

    /** Runs on the producer's I/O thread. */
    private void acknowledge(String what, String topic, Exception error) {
        if (error == null) {
            acknowledged.incrementAndGet();
        } else {
            failure.compareAndSet(null, new KafkaException(what + ": not acknowledged by " + topic + ": "
                    + error.getMessage(), error));
        }
    }

    private void throwIfFailed() {
        KafkaException e = failure.get();
        if (e != null) {
            throw e;
        }
    }
}
