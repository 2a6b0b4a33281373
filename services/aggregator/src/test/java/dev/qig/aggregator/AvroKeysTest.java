package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.serde.KeyDeserializer;
import dev.qig.kafka.serde.KeyFormat;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.LayerStats;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code key.format}: the aggregator reads LayerStats keys in either format (producers mid-way from
 * one to the other), and writes its plans' and configs' keys in its own: plain UTF-8, or an Avro
 * string in Confluent's wire format whose schema the registry holds under {@code <topic>-key}.
 * FAKE partial sums ({@link FakeStats}).
 */
class AvroKeysTest {

    @TempDir
    Path stateDir;

    @ParameterizedTest
    @ValueSource(strings = {"string", "avro"})
    void keysAreReadInEitherFormatAndWrittenInTheConfiguredOne(String format) {
        String scope = "keys-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, "unused:9092");
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, 3);
        props.put(AggregatorConfig.INSTANCE_ID, "ttd");
        props.put(AggregatorConfig.HTTP_PORT, -1);
        props.put(AggregatorConfig.REQUANTIZE_POLICY, "every-round");
        props.put(AggregatorConfig.KEY_FORMAT, format);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        AggregatorConfig config = new AggregatorConfig(props);
        String plansTopic = config.topic(Topics.Topic.PLANS);
        String configsTopic = config.topic(Topics.Topic.CONFIGS);
        try (TopologyTestDriver driver = new TopologyTestDriver(AggregatorTopology.build(config, registry),
                Aggregator.streamsProperties(config), Instant.parse("2026-11-29T12:00:00Z"))) {
            TestInputTopic<byte[], LayerStats> stats = driver.createInputTopic(config.topic(Topics.Topic.LAYER_STATS),
                    new ByteArraySerializer(), new AvroSerializer<LayerStats>(registry));
            TestOutputTopic<byte[], byte[]> plans = driver.createOutputTopic(plansTopic, new ByteArrayDeserializer(),
                    new ByteArrayDeserializer());
            TestOutputTopic<byte[], byte[]> configs = driver.createOutputTopic(configsTopic, new ByteArrayDeserializer(),
                    new ByteArrayDeserializer());
            TestOutputTopic<byte[], byte[]> dlq = driver.createOutputTopic(config.topic(Topics.Topic.DLQ),
                    new ByteArrayDeserializer(), new ByteArrayDeserializer());
            String roundKey = FakeStats.KEY.toString();
            byte[] plain = roundKey.getBytes(StandardCharsets.UTF_8);
            byte[] avro = KeyFormat.AVRO.serializer(registry).serialize(config.topic(Topics.Topic.LAYER_STATS), roundKey);
            // A statistics round, then a search round; each mixes the two formats.
            for (int i = 1; i <= 3; i++) {
                stats.pipeInput(i % 2 == 0 ? avro : plain, FakeStats.record("s" + i, i, 0));
            }
            for (int i = 1; i <= 3; i++) {
                stats.pipeInput(i % 2 == 0 ? plain : avro, FakeStats.record("s" + i, 10 + i, 1));
            }
            assertEquals(List.of(), dlq.readRecordsToList(), "both formats read");
            List<TestRecord<byte[], byte[]>> planRecords = plans.readRecordsToList();
            List<TestRecord<byte[], byte[]>> configRecords = configs.readRecordsToList();
            assertEquals(2, planRecords.size(), "one plan per round");
            assertEquals(4, configRecords.size(), "the search round's configs, one per method");
            KeyDeserializer keys = new KeyDeserializer();
            for (TestRecord<byte[], byte[]> r : planRecords) {
                assertKey(format, registry, plansTopic, roundKey, r.key());
                assertEquals(roundKey, keys.deserialize(plansTopic, r.key()));
            }
            for (TestRecord<byte[], byte[]> r : configRecords) {
                String key = keys.deserialize(configsTopic, r.key());
                assertEquals(roundKey, key.substring(0, key.lastIndexOf('/')));
                assertKey(format, registry, configsTopic, key, r.key());
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** Plain: the UTF-8 bytes. Avro: 0, a schema id that is Avro's "string" under {@code <topic>-key}, then the Avro string. */
    private static void assertKey(String format, SchemaRegistryClient registry, String topic, String expected, byte[] key) {
        if (format.equals("string")) {
            assertEquals(expected, new String(key, StandardCharsets.UTF_8));
            return;
        }
        assertEquals(0, key[0]);
        int id = ((key[1] & 0xff) << 24) | ((key[2] & 0xff) << 16) | ((key[3] & 0xff) << 8) | (key[4] & 0xff);
        Schema schema = Schema.create(Schema.Type.STRING);
        assertEquals(schema, registry.schemaById(id));
        assertEquals(id, registry.idOf(topic + "-key", schema));
        byte[] utf8 = expected.getBytes(StandardCharsets.UTF_8);
        int lengthBytes = key.length - 5 - utf8.length;
        assertEquals(utf8.length < 64 ? 1 : 2, lengthBytes, "Avro's zig-zag length, 7 bits a byte");
        assertTrue(java.util.Arrays.equals(key, 5 + lengthBytes, key.length, utf8, 0, utf8.length), "then the UTF-8 bytes");
    }
}
