package dev.qig.publisher.internals;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.qig.core.export.CheckpointExporter;
import dev.qig.core.export.ExportedCheckpoint;
import dev.qig.core.export.UnservableSchemeException;
import dev.qig.io.Folders;
import dev.qig.core.model.GradientRecording;
import dev.qig.quant.QuantConfig;
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
import dev.qig.publisher.PublisherConfig;
import dev.qig.publisher.store.ArtifactStore;
import dev.qig.publisher.store.Manifest;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.ModelPublished;
import dev.qig.schemas.PublishedFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publisher's consumer loop, one promotion at a time: skip a config id already published,
 * export the config applied to its model into a temporary folder, commit the folder to the store
 * under {@code <config id>/<content hash>} (retried with backoff), announce it with a ModelPublished
 * and wait for the acknowledgement, and only then commit the promotion's offset. A promotion that
 * cannot be published goes to the dead-letter topic with its reason, and the stream goes on.
 *
 * <p>Why nothing is published twice: a crash before the event leaves at most a committed checkpoint
 * (the store keeps it under the same key, so the redelivery finds it and uploads nothing); a crash
 * after the event but before the offset commit is caught by {@link PublishedModels}, which the
 * restart restores from the published-models topic.
 */
public final class PublishWorker implements Runnable {

    public static final String STAGE = "publisher";
    private static final Logger LOG = LoggerFactory.getLogger(PublishWorker.class);
    /** Backoffs stop doubling here, whatever publish.retries is. */
    private static final long MAX_BACKOFF_MS = 300_000;

    private final PublisherConfig config;
    private final ArtifactStore store;
    private final AvroDeserializer<ActiveConfig> deserializer;
    private final AvroSerializer<SpecificRecord> serializer;
    private final PublishedModels published;
    private final PublisherStats stats;
    private final CheckpointExporter.Options options;
    private final org.apache.kafka.common.serialization.Serializer<String> keys;
    private final Map<String, CheckpointExporter> exporters = new LinkedHashMap<>();
    private final AtLeastOnceLoop loop;

    public PublishWorker(PublisherConfig config, ArtifactStore store, AvroDeserializer<ActiveConfig> deserializer,
                         AvroSerializer<SpecificRecord> serializer, PublishedModels published, PublisherStats stats) {
        this.config = config;
        this.store = store;
        this.deserializer = deserializer;
        this.serializer = serializer;
        this.keys = serializer.keySerializer(config.keyFormat());
        this.published = published;
        this.stats = stats;
        this.options = CheckpointExporter.Options.defaults()
                .fakeQuantizeUnservable(config.unservable() == PublisherConfig.Unservable.FAKE_QUANTIZE)
                .log(line -> LOG.info("export: {}", line));
        this.loop = new AtLeastOnceLoop("publisher", this::newConsumer, stats::restarted);
    }

    /** The consumer loop: ready once the models are loaded and it polls, serving, its consumer's metrics, and {@code stop}. */
    public AtLeastOnceLoop loop() {
        return loop;
    }

    /** Ids of the models served, once loaded. */
    public synchronized List<String> modelIds() {
        return List.copyOf(exporters.keySet());
    }

    @Override
    public void run() {
        GradientRecording.offInThisThread(); // exports only read weights
        try (NDManager manager = NDManager.newBaseManager(Device.cpu());
             KafkaProducer<byte[], byte[]> producer = newProducer()) {
            try {
                for (String location : config.models()) {
                    CheckpointExporter e = CheckpointExporter.open(location, manager);
                    synchronized (this) {
                        CheckpointExporter before = exporters.putIfAbsent(e.modelId(), e);
                        if (before != null) {
                            LOG.warn("{} is model {} again (already loaded from {}); ignored", location, e.modelId(),
                                    before.location());
                            e.close();
                            continue;
                        }
                    }
                    LOG.info("publishing promoted configs of {} ({})", e.modelId(), location);
                }
                // One promotion per poll (max.poll.records = 1): its offset is committed once its event is acknowledged.
                loop.run(AtLeastOnceLoop::pollOnce, records -> {
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        process(r, producer);
                    }
                });
            } finally {
                synchronized (this) {
                    exporters.values().forEach(CheckpointExporter::close);
                }
            }
        } catch (Throwable t) {
            loop.failed(t);
            if (t instanceof Error e) {
                throw e;
            }
        }
    }

    private void process(ConsumerRecord<byte[], byte[]> r, KafkaProducer<byte[], byte[]> producer)
            throws ExecutionException {
        stats.countConsumed();
        if (r.value() == null) {
            // A tombstone retires a (model, scheme); what was published stays published.
            LOG.info("tombstone at {}-{}@{} skipped", r.topic(), r.partition(), r.offset());
            return;
        }
        ActiveConfig active;
        try {
            active = deserializer.deserialize(r.topic(), r.value());
        } catch (AvroDecodingException e) {
            RejectReason reason = RejectReason.of(e);
            reject(producer, r, new RejectedRecordException(reason, e.getMessage(), e), null);
            return;
        }
        dev.qig.schemas.QuantConfig record = active.getConfig();
        String configId = record.getConfigId();
        if (published.contains(configId)) {
            stats.skippedDuplicate();
            LOG.info("config {} already published as {}; promotion at {}-{}@{} skipped", configId,
                    published.contentHashes(configId), r.topic(), r.partition(), r.offset());
            return;
        }
        QuantConfig quant;
        try {
            quant = Records.config(record);
        } catch (IllegalArgumentException e) {
            reject(producer, r, new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config " + configId + ": "
                    + e.getMessage(), e), record.getModel());
            return;
        }
        CheckpointExporter exporter;
        synchronized (this) {
            exporter = exporters.get(quant.model());
        }
        if (exporter == null) {
            reject(producer, r, new RejectedRecordException(RejectReason.UNKNOWN_MODEL, "config " + configId
                    + " names model " + quant.model() + "; this publisher serves " + modelIds()), quant.model());
            return;
        }

        long start = System.nanoTime();
        Path work;
        try {
            work = Files.createTempDirectory(config.exportWorkDir(), "export-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary export folder", e); // the loop reads it again
        }
        try {
            ExportedCheckpoint checkpoint;
            try {
                checkpoint = exporter.export(quant, work.resolve("checkpoint"), options);
            } catch (UnservableSchemeException e) {
                reject(producer, r, new RejectedRecordException(RejectReason.UNSERVABLE_SCHEME, "config " + configId
                        + ": " + e.getMessage(), e), quant.model());
                return;
            } catch (IllegalArgumentException e) {
                reject(producer, r, new RejectedRecordException(RejectReason.MALFORMED_CONFIG, "config " + configId
                        + " does not fit model " + quant.model() + ": " + e.getMessage(), e), quant.model());
                return;
            } catch (IOException | RuntimeException e) {
                reject(producer, r, new RejectedRecordException(RejectReason.PROCESSING_ERROR, "config " + configId
                        + ": export failed: " + e.getMessage(), e), quant.model());
                return;
            }
            String key = PublishedModels.storeKey(configId, checkpoint.contentHash());
            Committed committed;
            try {
                committed = commit(key, checkpoint);
            } catch (RejectedRecordException e) {
                reject(producer, r, e, quant.model());
                return;
            }
            ModelPublished event = event(active, checkpoint, key, committed.manifest());
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            String topic = config.topic(Topics.Topic.PUBLISHED_MODELS);
            sent.add(producer.send(new ProducerRecord<>(topic, keys.serialize(topic, configId),
                    serializer.serialize(topic, event))));
            ServiceClients.awaitAcknowledged(producer, sent);
            published.add(configId, checkpoint.contentHash()); // only once the topic has it
            double seconds = (System.nanoTime() - start) / 1e9;
            stats.published(event.getScheme(), event.getMethod(), event.getFormat(),
                    committed.uploaded() ? event.getTotalBytes() : 0, seconds);
            LOG.info("config {}: published {} ({}, {} files, {} bytes{}) in {} s", configId, event.getLocation(),
                    event.getFormat(), event.getFiles().size(), event.getTotalBytes(),
                    committed.uploaded() ? "" : ", already in the store", String.format(java.util.Locale.ROOT, "%.1f", seconds));
        } finally {
            deleteQuietly(work);
        }
    }

    /** A commit: the manifest the store holds, and whether this commit uploaded it (false: the store had it). */
    private record Committed(Manifest manifest, boolean uploaded) {}

    /**
     * Commits the checkpoint under {@code key} unless the store has it already (a redelivery after a
     * crash between commit and event), retrying failures with a doubling backoff.
     *
     * @throws RejectedRecordException (publish_failed) with the last error once every retry failed
     */
    private Committed commit(String key, ExportedCheckpoint checkpoint) {
        long backoff = config.publishRetryBackoffMs();
        int retries = config.publishRetries();
        Exception last = null;
        for (int attempt = 0; attempt <= retries; attempt++) {
            if (attempt > 0) {
                stats.retried();
                LOG.warn("commit of {} failed (attempt {} of {}): {}; trying again in {} ms", key, attempt, retries + 1,
                        last.getMessage(), backoff);
                pause(backoff);
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            }
            try {
                Optional<Manifest> existing = store.committed(key);
                if (existing.isPresent() && existing.get().contentHash().equals(checkpoint.contentHash())) {
                    return new Committed(existing.get(), false);
                }
                return new Committed(store.commit(key, checkpoint), true);
            } catch (IOException | RuntimeException e) {
                last = e;
            }
        }
        throw new RejectedRecordException(RejectReason.PUBLISH_FAILED, "config " + checkpoint.configId() + ": commit to "
                + store.location(key) + " failed " + (retries + 1) + " times; last error: " + oneLine(last), last);
    }

    /** Sleeps between retries; a stop ends the wait and the promotion, uncommitted, so it comes again after a restart. */
    private void pause(long millis) {
        long until = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < until) {
            if (!loop.isRunning()) {
                throw new IllegalStateException("stopping during a commit backoff");
            }
            try {
                Thread.sleep(Math.max(1, Math.min(100, (until - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during a commit backoff", e);
            }
        }
    }

    private ModelPublished event(ActiveConfig active, ExportedCheckpoint checkpoint, String key, Manifest manifest) {
        dev.qig.schemas.QuantConfig c = active.getConfig();
        List<PublishedFile> files = manifest.files().stream()
                .map(f -> PublishedFile.newBuilder().setPath(f.path()).setSize(f.size()).setSha256(f.sha256()).build())
                .toList();
        return ModelPublished.newBuilder()
                .setModel(c.getModel())
                .setScheme(c.getScheme())
                .setMethod(c.getMethod())
                .setConfigId(c.getConfigId())
                .setConfigVersion(c.getVersion())
                .setLocation(store.location(key))
                .setFormat(checkpoint.format().id())
                .setContentHash(manifest.contentHash())
                .setFiles(new ArrayList<>(files))
                .setTotalBytes(files.stream().mapToLong(PublishedFile::getSize).sum())
                .setEvaluations(new ArrayList<>(active.getEvaluations()))
                .setPublishedAt(Instant.now().truncatedTo(ChronoUnit.MILLIS)) // what the record's timestamp-millis keeps
                .build();
    }

    private void reject(KafkaProducer<byte[], byte[]> producer, ConsumerRecord<byte[], byte[]> r, RejectedRecordException e,
                        String model) throws ExecutionException {
        stats.failed(e.reason());
        LOG.warn("dead letter ({}) from {}-{}@{}: {}", e.reason().id(), r.topic(), r.partition(), r.offset(), e.getMessage());
        ServiceClients.awaitAcknowledged(producer, List.of(producer.send(DeadLetters.to(config.topic(Topics.Topic.DLQ))
                .source(r).reason(e.reason()).stage(STAGE).model(model).error(e).build())));
    }

    private static String oneLine(Exception e) {
        String m = e == null ? "unknown" : e.getMessage() == null ? e.getClass().getName() : e.getMessage();
        return m.replaceAll("\\s*\\R\\s*", " ");
    }

    private static void deleteQuietly(Path folder) {
        try {
            Folders.deleteTree(folder);
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("cannot delete the temporary export {}: {}", folder, e.getMessage());
        }
    }

    private KafkaConsumer<byte[], byte[]> newConsumer() {
        return ServiceClients.recordAtATimeConsumer(config, config.getString(PublisherConfig.GROUP_ID),
                "qig-publisher-" + config.instanceId(), config.topic(Topics.Topic.ACTIVE_CONFIGS));
    }

    private KafkaProducer<byte[], byte[]> newProducer() {
        return ServiceClients.reliableProducer(config, "qig-publisher-" + config.instanceId(), Map.of());
    }
}
