package dev.qig.attributor.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.attributor.AttributorConfig;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.core.model.Checkpoint;
import dev.qig.data.VisualQuestion;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.testing.TopicRecords;
import dev.qig.kafka.topics.Topics;
import dev.qig.quant.QuantScheme;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * One attributor {@link Worker} on a real broker, built through its package-private constructor so
 * that a test gives its plans and engine call; the test's own copy of the shipped model and an engine
 * with the worker's settings give the sums to expect.
 */
final class WorkerFixture implements AutoCloseable {

    static final QuantScheme SCHEME = QuantScheme.W3A16;

    final EmbeddedKafka kafka;
    final String scope = "worker-" + UUID.randomUUID();
    final SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
    final AttributorConfig config;
    final ServiceMetrics metrics = ServiceMetrics.withoutJvm("attributor");
    final AttributorStats stats = new AttributorStats(metrics);
    final SampleDecoder decoder;
    final NDManager manager = NDManager.newBaseManager();
    final Checkpoint.Loaded model;
    /** An engine on the test's own model copy with the worker's settings: the expected results. */
    final PartialSumsEngine engine;
    private Worker worker;
    private Thread thread;

    /** A worker that takes a batch of {@code batchSize} samples (sent before it starts) at once. */
    WorkerFixture(int batchSize) throws Exception {
        kafka = EmbeddedKafka.start();
        Map<String, Object> props = new HashMap<>();
        props.put(AttributorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(AttributorConfig.METRICS_PORT, 0);
        props.put(AttributorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AttributorConfig.INSTANCE_ID, "worker-test");
        props.put(AttributorConfig.SCHEMES, SCHEME.id());
        props.put(AttributorConfig.BATCH_SIZE, batchSize);
        props.put(AttributorConfig.BATCH_LINGER_MS, 30_000L);
        // Fewer integrated-gradient points: the same code path, less time on a shared machine.
        props.put(AttributorConfig.CALIBRATION_IG_STEPS, 4);
        props.put(AttributorConfig.CALIBRATION_IG_CHUNK_STEPS, 4);
        config = new AttributorConfig(props);
        config.ensureTopics(Topics.Topic.SAMPLES, Topics.Topic.LAYER_STATS, Topics.Topic.TOKEN_ATTRIBUTIONS,
                Topics.Topic.DLQ);
        decoder = new SampleDecoder(new AvroDeserializer<>(registry, CalibrationSample.class), config.promptMaxChars(),
                config.imageMaxBytes());
        model = Checkpoint.load(Checkpoint.SHIPPED, manager);
        engine = new PartialSumsEngine(model.vqa(), config.calibrationSettings(SCHEME), model.modelId());
    }

    /** The question the worker makes of a sample, on the test's model copy. */
    VisualQuestion question(CalibrationSample s) {
        return decoder.question(s, decoder.imageBytes(s), model.vqa());
    }

    /** Sends the samples, keyed by their ids, in order. */
    void send(List<CalibrationSample> samples) {
        AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(registry);
        String topic = config.topic(Topics.Topic.SAMPLES);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (CalibrationSample s : samples) {
                producer.send(new ProducerRecord<>(topic, s.getSampleId().getBytes(), serializer.serialize(topic, s)));
            }
        }
    }

    /** Starts the worker with these plans and engine call; returns when it polls. */
    void startWorker(Worker.PlanSource plans, Worker.EngineCall engineCall) throws InterruptedException {
        worker = new Worker(config, 0, plans, decoder, new AvroSerializer<SpecificRecord>(registry), stats, engineCall);
        thread = new Thread(worker, "worker-under-test");
        thread.start();
        assertTrue(worker.loop().awaitReady(5, TimeUnit.MINUTES), "the worker polls");
    }

    /** The LayerStats records written (one per sample: the shipped model's sums fit one record), by sample id. */
    Map<String, LayerStats> layerStats(int n) {
        AvroDeserializer<LayerStats> reader = new AvroDeserializer<>(registry, LayerStats.class);
        Map<String, LayerStats> out = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : read(Topics.Topic.LAYER_STATS, n)) {
            LayerStats s = reader.deserialize(r.topic(), r.value());
            assertEquals(1, s.getParts(), "one record per sample");
            out.put(s.getSampleId(), s);
        }
        assertEquals(n, out.size(), "one record per sample: " + out.keySet());
        return out;
    }

    List<ConsumerRecord<byte[], byte[]>> read(Topics.Topic topic, int n) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>(TopicRecords.read(kafka.bootstrapServers(),
                config.topic(topic), n));
        assertEquals(n, out.size(), "records on " + topic);
        return out;
    }

    @Override
    public void close() throws InterruptedException {
        if (worker != null) {
            worker.loop().stop();
            thread.join(120_000);
        }
        manager.close();
        metrics.close();
        kafka.close();
        MockSchemaRegistry.drop(scope);
    }
}
