package dev.qig.attributor.internals;

import ai.djl.ndarray.NDManager;
import dev.qig.attributor.AttributorConfig;
import dev.qig.data.VisualQuestion;
import dev.qig.io.Sha256;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.core.engine.gptq.GptqCalibrator;
import dev.qig.quant.GptqOptions;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.clients.AtLeastOnceLoop;
import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.serde.AvroDecodingException;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.GptqJob;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import dev.qig.kafka.serde.KeyDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the GPTQ round jobs the aggregator emits, one at a time, on model copies of its own: reads
 * the job's samples back from the samples topic, runs GPTQ (QIG-GPTQ with QIG's token weights on
 * those samples) in the job's order, writes the quantized weights to {@code gptq.weights.dir} under
 * their content hash, then the QuantConfig naming them, and commits the job's offset only once the
 * config is acknowledged. A job's result depends on its record alone, so a job run again after a
 * crash writes the same file and the same config, bit for bit (docs/architecture.md, "GPTQ in the
 * stream").
 */
public final class GptqJobWorker implements Runnable {

    public static final String STAGE = "gptq";
    private static final Logger LOG = LoggerFactory.getLogger(GptqJobWorker.class);
    /** A GPTQ job of a large model runs for many minutes; the group must not evict its worker meanwhile. */
    private static final int JOB_MAX_POLL_INTERVAL_MS = 6 * 60 * 60 * 1000;
    /** At most one progress line per this many nanoseconds. */
    private static final long PROGRESS_LOG_NANOS = 5_000_000_000L;

    private final AttributorConfig config;
    private final AvroDeserializer<GptqJob> jobs;
    private final SampleDecoder decoder;
    private final AvroSerializer<SpecificRecord> serializer;
    private final AttributorStats stats;
    private final Map<String, VqaModel> models = new LinkedHashMap<>();
    private final AtLeastOnceLoop loop;

    public GptqJobWorker(AttributorConfig config, AvroDeserializer<GptqJob> jobs, SampleDecoder decoder,
                         AvroSerializer<SpecificRecord> serializer, AttributorStats stats) {
        this.config = config;
        this.jobs = jobs;
        this.decoder = decoder;
        this.serializer = serializer;
        this.stats = stats;
        this.loop = new AtLeastOnceLoop("gptq job worker", this::newConsumer, stats::restarted);
    }

    public AtLeastOnceLoop loop() {
        return loop;
    }

    @Override
    public void run() {
        try (NDManager manager = NDManager.newBaseManager();
             KafkaProducer<byte[], byte[]> producer = ServiceClients.reliableProducer(config,
                     "qig-gptq-" + config.instanceId(), Map.of())) {
            for (String location : config.models()) {
                Checkpoint.Loaded loaded = Checkpoint.load(location, manager);
                models.put(loaded.modelId(), loaded.vqa());
            }
            Files.createDirectories(incoming());
            LOG.info("gptq job worker: serving {}, weights to {}", models.keySet(), config.gptqWeightsDir());
            loop.run(AtLeastOnceLoop::pollOnce, records -> {
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    process(r, producer, manager);
                }
            });
        } catch (Throwable t) {
            loop.failed(t);
            if (t instanceof Error e) {
                throw e;
            }
        }
    }

    private void process(ConsumerRecord<byte[], byte[]> r, KafkaProducer<byte[], byte[]> producer, NDManager manager)
            throws ExecutionException {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try {
            GptqJob job = decode(r);
            sent.add(run(job, r.key(), producer, manager));
        } catch (RejectedRecordException e) {
            sent.add(deadLetter(producer, r, e));
        }
        ServiceClients.awaitAcknowledged(producer, sent);
    }

    private GptqJob decode(ConsumerRecord<byte[], byte[]> r) {
        if (r.value() == null) {
            throw new RejectedRecordException(RejectReason.NULL_VALUE, "a gptq-jobs record without a value");
        }
        try {
            return jobs.deserialize(r.topic(), r.value());
        } catch (AvroDecodingException e) {
            throw new RejectedRecordException(RejectReason.of(e), e.getMessage(), e);
        }
    }

    /** Runs one job and sends its config under the job's key (the config's key: round key/method); returns the send. */
    private Future<RecordMetadata> run(GptqJob job, byte[] key, KafkaProducer<byte[], byte[]> producer, NDManager manager) {
        long start = System.nanoTime();
        String id = job.getJobId();
        VqaModel vqa = models.get(job.getModel());
        if (vqa == null) {
            throw new RejectedRecordException(RejectReason.UNKNOWN_MODEL, "job " + id + " names model " + job.getModel()
                    + "; this worker serves " + models.keySet());
        }
        Method method;
        QuantScheme scheme;
        GptqOptions options;
        CalibrationSettings settings;
        try {
            method = Method.parse(job.getMethod());
            scheme = QuantScheme.parse(job.getScheme());
            if (!method.roundsWithGptq()) {
                throw new IllegalArgumentException("method " + method.id() + " is not a GPTQ method");
            }
            options = Records.gptqOptions(job.getSettings());
            settings = Records.settings(job.getSettings(), scheme).withBatchSize(config.batchSize());
        } catch (IllegalArgumentException e) {
            throw new RejectedRecordException(RejectReason.MALFORMED_JOB, "job " + id + ": " + e.getMessage(), e);
        }
        List<VisualQuestion> samples = samples(job, vqa);
        LOG.info("gptq job {}: {} samples of round {}, {}", id, samples.size(), job.getRound(), options);
        BatchCalibrator calibrator = new BatchCalibrator(vqa, settings, job.getModel());
        GptqCalibrator.Result result;
        try {
            result = calibrator.gptq(method, options, samples, manager, progress(id, method,
                    vqa.model().layers().size(), samples.size()));
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new RejectedRecordException(RejectReason.PROCESSING_ERROR, "job " + id + ": GPTQ failed: " + e.getMessage(),
                    e);
        }
        QuantConfig.WeightsRef weights;
        try {
            weights = commit(id, result);
        } catch (IOException e) {
            // Not the job's fault: the folder is not writable. Fail the loop, so the job comes again.
            throw new java.io.UncheckedIOException("job " + id + ": cannot write its weights to "
                    + config.gptqWeightsDir() + ": " + e.getMessage(), e);
        }
        dev.qig.schemas.QuantConfig record = Records.gptqConfigRecord(job, weights);
        String topic = config.topic(Topics.Topic.CONFIGS);
        double seconds = (System.nanoTime() - start) / 1e9;
        stats.gptqJob(job.getModel(), scheme.id(), method.id(), seconds);
        LOG.info(String.format(Locale.ROOT, "gptq job %s: config %s in %.1f s, weights %s", id, record.getConfigId(),
                seconds, weights.location()));
        // The job's key as the aggregator wrote it (key.format): the config lands where its round's other configs do.
        return producer.send(new ProducerRecord<>(topic, key, serializer.serialize(topic, record)));
    }

    /**
     * The job's samples, in its order, read back from the samples topic (the first record of each id
     * that decodes: the one the attributors summed).
     */
    private List<VisualQuestion> samples(GptqJob job, VqaModel vqa) {
        Set<String> wanted = new HashSet<>(job.getSampleIds());
        Map<String, VisualQuestion> found = new HashMap<>();
        String topic = config.topic(Topics.Topic.SAMPLES);
        KeyDeserializer keyReader = new KeyDeserializer();
        ServiceClients.readToEnd(config, topic, "qig-gptq-samples-" + config.instanceId(), r -> {
            String key;
            try {
                key = r.key() == null ? null : keyReader.deserialize(topic, r.key());
            } catch (org.apache.kafka.common.errors.SerializationException e) {
                return; // not a sample id; the attributor dead-lettered the record when it came
            }
            if (key == null || !wanted.contains(key) || found.containsKey(key)) {
                return;
            }
            try {
                CalibrationSample s = decoder.record(topic, r.value());
                if (wanted.contains(s.getSampleId())) {
                    found.put(s.getSampleId(), decoder.question(s, decoder.imageBytes(s), vqa));
                }
            } catch (RejectedRecordException e) {
                // Dead-lettered by the attributor when it came; a later record of the same id may be good.
            }
        });
        List<String> missing = job.getSampleIds().stream().filter(s -> !found.containsKey(s)).toList();
        if (!missing.isEmpty()) {
            throw new RejectedRecordException(RejectReason.SAMPLES_UNAVAILABLE, "job " + job.getJobId() + ": "
                    + missing.size() + " of its " + job.getSampleIds().size() + " samples are not on " + topic
                    + " (retention shorter than a round?), e.g. " + missing.subList(0, Math.min(3, missing.size())));
        }
        return job.getSampleIds().stream().map(found::get).toList();
    }

    /**
     * Writes the weights under their content hash: first to a file of the job's own in
     * {@code .incoming} (a restarted job overwrites it), then moved into place atomically, so the
     * folder never shows a partial file under a hash.
     */
    private QuantConfig.WeightsRef commit(String jobId, GptqCalibrator.Result result) throws IOException {
        java.security.MessageDigest digest = Sha256.newDigest();
        digest.update(jobId.getBytes(StandardCharsets.UTF_8));
        Path staged = incoming().resolve(Sha256.hex(digest) + ".safetensors");
        String sha = result.weights().write(staged);
        Path target = config.gptqWeightsDir().resolve(sha + ".safetensors");
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return new QuantConfig.WeightsRef(target.toString(), sha);
    }

    private Path incoming() {
        return config.gptqWeightsDir().resolve(".incoming");
    }

    /** A progress gauge, and a log line when a pass starts and at most every few seconds within one. */
    private java.util.function.BiConsumer<String, Integer> progress(String id, Method method, int layers, int samples) {
        // QIG-GPTQ: statistics and token-weight passes first; then per layer one pass over the samples.
        int passes = layers + (method == Method.QIG_GPTQ ? 2 : 0);
        Map<String, Integer> passIndex = new TreeMap<>();
        long[] lastLog = {System.nanoTime()};
        return (pass, done) -> {
            String name = pass.endsWith(" quantized") ? pass.substring(0, pass.length() - " quantized".length()) : pass;
            boolean first = !passIndex.containsKey(name);
            Integer index = passIndex.computeIfAbsent(name, k -> passIndex.size());
            double share = Math.min(1, (index + (double) done / Math.max(1, samples)) / passes);
            stats.gptqProgress(share);
            if (first || System.nanoTime() - lastLog[0] >= PROGRESS_LOG_NANOS) {
                lastLog[0] = System.nanoTime();
                LOG.info(String.format(Locale.ROOT, "gptq job %s: %s %d/%d (%.0f%%)", id, pass, done, samples, 100 * share));
            }
        };
    }

    private Future<RecordMetadata> deadLetter(KafkaProducer<byte[], byte[]> producer, ConsumerRecord<byte[], byte[]> r,
                                              RejectedRecordException e) {
        stats.deadLettered(e.reason());
        LOG.warn("dead letter ({}) from {}-{}@{}: {}", e.reason().id(), r.topic(), r.partition(), r.offset(), e.getMessage());
        return producer.send(DeadLetters.to(config.topic(Topics.Topic.DLQ)).source(r).reason(e.reason()).stage(STAGE)
                .error(e).build());
    }

    private KafkaConsumer<byte[], byte[]> newConsumer() {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, JOB_MAX_POLL_INTERVAL_MS);
        // Kept open as long as a job may run, so that the consumer's rejoin after it is not slowed (Kafka warns otherwise).
        overrides.put(ConsumerConfig.CONNECTIONS_MAX_IDLE_MS_CONFIG, (long) JOB_MAX_POLL_INTERVAL_MS);
        return ServiceClients.recordAtATimeConsumer(config, config.getString(AttributorConfig.GPTQ_GROUP_ID),
                "qig-gptq-" + config.instanceId(), config.topic(Topics.Topic.GPTQ_JOBS), overrides);
    }
}
