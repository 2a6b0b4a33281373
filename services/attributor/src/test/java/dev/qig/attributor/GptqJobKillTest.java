package dev.qig.attributor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.io.Sha256;
import dev.qig.core.model.Checkpoint;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.engine.QuantizedWeights;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.GptqJob;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GPTQ round job on a real broker: an attributor in a child JVM is killed with SIGKILL in the
 * middle of a QIG-GPTQ job (during its token-weight pass), then started again. The job, never
 * committed, is run again to one config, and that config (its Avro bytes) and its weights file
 * are the same, bit for bit, as those of an uninterrupted run of the same job by another group.
 * A job whose samples are gone is dead-lettered (samples_unavailable) and the next job still runs.
 */
class GptqJobKillTest {

    private static final Instant CLOSED = Instant.parse("2026-12-07T12:00:00Z");

    @TempDir
    Path tmp;

    /** The schemas both JVMs register first, in this order, so that in-memory registries agree on their ids. */
    static void registerSchemas(SchemaRegistryClient registry, AttributorConfig config) {
        registry.register(config.topic(Topics.Topic.SAMPLES) + "-value", CalibrationSample.getClassSchema());
        registry.register(config.topic(Topics.Topic.GPTQ_JOBS) + "-value", GptqJob.getClassSchema());
        registry.register(config.topic(Topics.Topic.CONFIGS) + "-value", dev.qig.schemas.QuantConfig.getClassSchema());
    }

    @Test
    void aWorkerKilledMidJobGivesTheSameConfigBitForBitAfterItsRestart() throws Exception {
        String scope = "gptq-kill-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Path weightsDir = tmp.resolve("weights");
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, Object> settings = new HashMap<>();
            settings.put(AttributorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            settings.put(AttributorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
            settings.put(AttributorConfig.METRICS_PORT, 0);
            settings.put(AttributorConfig.INSTANCE_ID, "gptq-kill");
            // rtn keeps the attributor's own work on the samples (a statistics pass) small.
            settings.put(AttributorConfig.METHODS, "rtn,gptq,qig-gptq");
            settings.put(AttributorConfig.SCHEMES, "w3a16");
            settings.put(AttributorConfig.BATCH_SIZE, 4);
            settings.put(AttributorConfig.GPTQ_WEIGHTS_DIR, weightsDir.toString());
            settings.put(AttributorConfig.GPTQ_GROUP_ID, "gptq-kill");
            AttributorConfig config = new AttributorConfig(settings);
            registerSchemas(registry, config);
            config.ensureTopics(Topics.Topic.SAMPLES, Topics.Topic.GPTQ_JOBS, Topics.Topic.CONFIGS, Topics.Topic.DLQ);
            String samplesTopic = config.topic(Topics.Topic.SAMPLES);
            String jobsTopic = config.topic(Topics.Topic.GPTQ_JOBS);
            String configsTopic = config.topic(Topics.Topic.CONFIGS);

            String modelId = Checkpoint.modelId(Checkpoint.SHIPPED);
            List<VqaSample> world = new SyntheticWorld().generate(Domain.CLEAN, 16, 2026);
            List<String> ids = new ArrayList<>();
            AvroSerializer<org.apache.avro.specific.SpecificRecord> serializer = new AvroSerializer<>(registry);
            try (KafkaProducer<byte[], byte[]> producer = producer(kafka)) {
                for (int i = 0; i < world.size(); i++) {
                    String id = String.format("sample-%02d", i);
                    ids.add(id);
                    producer.send(record(samplesTopic, id, serializer.serialize(samplesTopic,
                            Records.calibrationSample(world.get(i), id, "test", CLOSED).build())));
                }
                EngineSettings engine = config.settingsRecord(QuantScheme.W3A16);
                RoundKey key = RoundKey.of(modelId, QuantScheme.W3A16, engine);
                GptqJob job = Records.gptqJob(key, Method.QIG_GPTQ, engine, 2, 1, ids, Map.of(),
                        Map.of("driver", "stream", "domains", "clean=16"), CLOSED);
                producer.send(record(jobsTopic, key.configKey(Method.QIG_GPTQ), serializer.serialize(jobsTopic, job)));
                producer.flush();
            }

            // The child: killed once its job has read its samples and is computing QIG's token weights.
            Properties child = new Properties();
            settings.forEach((k, v) -> child.setProperty(k, String.valueOf(v)));
            child.setProperty(AttributorConfig.INSTANCE_ID, "gptq-kill-child");
            Path props = tmp.resolve("child.properties");
            try (OutputStream out = Files.newOutputStream(props)) {
                child.store(out, "attributor to be killed");
            }
            Path log = tmp.resolve("child.log");
            dev.qig.kafka.testing.ChildJvm.killWhen(startChild(props, log), log,
                    () -> Files.readString(log).contains("token weights"), "token-weight pass of the job");
            assertEquals(0, readAll(kafka, configsTopic, Duration.ofSeconds(3)).size(), "killed mid-job: no config yet");
            assertEquals(List.of(), committedWeights(weightsDir), "and no weights under a content hash");

            // The restart, same group: the job comes again and runs to its config.
            ConsumerRecord<byte[], byte[]> afterRestart = runToConfig(settings, registry, kafka, configsTopic, 1);
            // An uninterrupted run of the same job: another group, which reads it from the start.
            Map<String, Object> fresh = new HashMap<>(settings);
            fresh.put(AttributorConfig.GPTQ_GROUP_ID, "gptq-fresh");
            fresh.put(AttributorConfig.INSTANCE_ID, "gptq-fresh");
            ConsumerRecord<byte[], byte[]> uninterrupted = runToConfig(fresh, registry, kafka, configsTopic, 2);

            assertArrayEquals(uninterrupted.key(), afterRestart.key());
            assertArrayEquals(uninterrupted.value(), afterRestart.value(), "the same config, bit for bit");
            dev.qig.schemas.QuantConfig record = new AvroDeserializer<>(registry, dev.qig.schemas.QuantConfig.class)
                    .deserialize(configsTopic, afterRestart.value());
            assertEquals(modelId + "/w3a16/qig-gptq/v2", record.getConfigId());
            assertEquals(16, record.getSamples());
            assertEquals(CLOSED, record.getCreatedAt());
            assertEquals("0.01", record.getProvenance().get("gptqDamp"));
            Path weights = Path.of(record.getWeights().getLocation());
            assertEquals(List.of(weights), committedWeights(weightsDir), "one weights file: both runs wrote the same");
            assertEquals(record.getWeights().getSha256(), Sha256.of(weights));
            assertEquals(weights.getFileName().toString(), record.getWeights().getSha256() + ".safetensors");

            // The config applies to the model, every linear from its stored codes.
            QuantConfig c = Records.config(record);
            try (NDManager manager = NDManager.newBaseManager()) {
                Checkpoint.Loaded loaded = Checkpoint.load(Checkpoint.SHIPPED, manager);
                QuantizedWeights stored = QuantizedWeights.read(weights, c.weights().sha256());
                assertEquals(loaded.model().layers().stream().mapToInt(l -> l.linears().size()).sum(),
                        stored.linears().size());
                QuantConfigApplier.apply(loaded.model(), c).close();
            }

            // A job whose samples are not on the topic: dead-lettered with its reason; the worker goes on.
            try (KafkaProducer<byte[], byte[]> producer = producer(kafka)) {
                EngineSettings engine = config.settingsRecord(QuantScheme.W3A16);
                RoundKey key = RoundKey.of(modelId, QuantScheme.W3A16, engine);
                List<String> gone = List.of("sample-03", "expired-1", "expired-2");
                GptqJob lost = Records.gptqJob(key, Method.GPTQ, engine, 3, 1, gone, Map.of(), Map.of(), CLOSED);
                producer.send(record(jobsTopic, key.configKey(Method.GPTQ), serializer.serialize(jobsTopic, lost)));
                GptqJob next = Records.gptqJob(key, Method.GPTQ, engine, 4, 1, ids.subList(0, 8), Map.of(), Map.of(), CLOSED);
                producer.send(record(jobsTopic, key.configKey(Method.GPTQ), serializer.serialize(jobsTopic, next)));
                producer.flush();
            }
            try (Attributor attributor = new Attributor(new AttributorConfig(settings), registry)) {
                attributor.start();
                AvroDeserializer<dev.qig.schemas.QuantConfig> configs = new AvroDeserializer<>(registry,
                        dev.qig.schemas.QuantConfig.class);
                List<String> made = awaitRecords(kafka, configsTopic, 3).stream()
                        .map(r -> configs.deserialize(configsTopic, r.value()).getConfigId()).sorted().toList();
                assertEquals(List.of(modelId + "/w3a16/gptq/v4", modelId + "/w3a16/qig-gptq/v2", modelId
                        + "/w3a16/qig-gptq/v2"), made, "the job after the dead letter ran; the dead one made no config");
                List<ConsumerRecord<byte[], byte[]>> dead = awaitRecords(kafka, config.topic(Topics.Topic.DLQ), 1);
                assertEquals("samples_unavailable", DeadLetters.header(dead.get(0).headers(), DeadLetters.REASON));
                assertTrue(DeadLetters.header(dead.get(0).headers(), DeadLetters.MESSAGE).contains("2 of its 3 samples"),
                        DeadLetters.header(dead.get(0).headers(), DeadLetters.MESSAGE));
                assertEquals(1, attributor.stats().gptqJobs(), "one job to its config, one dead letter");
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** Starts an attributor, waits until the configs topic holds {@code count} records, and returns the last. */
    private static ConsumerRecord<byte[], byte[]> runToConfig(Map<String, Object> settings, SchemaRegistryClient registry,
                                                              EmbeddedKafka kafka, String topic, int count) throws Exception {
        try (Attributor attributor = new Attributor(new AttributorConfig(settings), registry)) {
            attributor.start();
            List<ConsumerRecord<byte[], byte[]>> records = awaitRecords(kafka, topic, count);
            assertEquals(1, attributor.stats().gptqJobs());
            return records.get(count - 1);
        }
    }

    private static List<Path> committedWeights(Path dir) throws java.io.IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).sorted().toList();
        }
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, String key, byte[] value) {
        return new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value);
    }

    private static KafkaProducer<byte[], byte[]> producer(EmbeddedKafka kafka) {
        return new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers()), new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    private static List<ConsumerRecord<byte[], byte[]>> awaitRecords(EmbeddedKafka kafka, String topic, int count)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 300_000;
        while (true) {
            List<ConsumerRecord<byte[], byte[]>> all = readAll(kafka, topic, Duration.ofSeconds(2));
            if (all.size() >= count) {
                return all;
            }
            assertTrue(System.currentTimeMillis() < deadline, "only " + all.size() + " of " + count + " records on " + topic);
            Thread.sleep(200);
        }
    }

    /** Every record of the topic that arrives within {@code wait}. */
    private static List<ConsumerRecord<byte[], byte[]>> readAll(EmbeddedKafka kafka, String topic, Duration wait) {
        Map<String, Object> props = Map.of("bootstrap.servers", kafka.bootstrapServers(), "auto.offset.reset", "earliest",
                "group.id", "reader-" + UUID.randomUUID());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            long end = System.nanoTime() + wait.toNanos();
            while (System.nanoTime() < end) {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        out.sort(java.util.Comparator.comparingLong(ConsumerRecord::offset));
        return out;
    }

    /** The attributor in a JVM of its own; the job's passes logged at INFO (the kill waits for the token-weight pass). */
    private static Process startChild(Path props, Path log) throws java.io.IOException {
        return dev.qig.kafka.testing.ChildJvm.start(AttributorProcess.class, log,
                List.of("-Dorg.slf4j.simpleLogger.log.dev.qig.attributor.internals.GptqJobWorker=info"), props.toString());
    }

}
