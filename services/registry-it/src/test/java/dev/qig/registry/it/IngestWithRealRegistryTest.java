package dev.qig.registry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.qig.ingest.Ingest;
import dev.qig.ingest.IngestConfig;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.CalibrationSample;

/**
 * One service path with the real registry: ingest, configured only by {@code schema.registry.url},
 * writes synthetic CalibrationSample records to the in-process broker; a consumer reads them back
 * with a deserializer of its own client, which fetches the writer schema from the server.
 */
@ExtendWith(RealRegistry.class)
class IngestWithRealRegistryTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static RegistryServer server;
    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start(RegistryServer shared) {
        server = shared;
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void ingestWritesSamplesThatAConsumerReadsBack() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String topic = "samples-" + run;
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", kafka.bootstrapServers());
        props.put(SchemaRegistries.URL, server.url());
        props.put("topic.samples", topic);
        props.put("topic.dlq", "dlq-" + run);
        props.put("synthetic.schedule", "clean:3,lowlight:2");
        props.put("synthetic.seed", "11");
        props.put("source.name", "it");
        props.put("model", "qig-vqa-small");
        props.put("delivery.timeout.ms", "15000");
        props.put("request.timeout.ms", "10000");

        Ingest.Summary summary;
        try (Ingest ingest = new Ingest(new IngestConfig(props))) {
            summary = ingest.run();
        }
        assertEquals(5, summary.samplesSent());
        assertEquals(0, summary.deadLettered());

        List<String> subjects = new ArrayList<>();
        JSON.readTree(server.send("GET", "/subjects", null)).forEach(s -> subjects.add(s.asText()));
        assertTrue(subjects.contains(topic + "-value"), subjects.toString());

        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(
                SchemaRegistries.create(Map.of(SchemaRegistries.URL, server.url())), CalibrationSample.class);
        Map<String, Integer> perDomain = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : readAll(topic, 5)) {
            CalibrationSample sample = values.deserialize(r.topic(), r.value());
            assertEquals(sample.getSampleId(), new String(r.key(), StandardCharsets.UTF_8), "key = sample id");
            assertEquals("it", sample.getSource());
            assertEquals("qig-vqa-small", sample.getModel());
            assertTrue(sample.getImage() != null && sample.getImage().remaining() > 0, "inline image");
            perDomain.merge(sample.getDomain(), 1, Integer::sum);
        }
        assertEquals(Map.of("clean", 3, "lowlight", 2), perDomain);
    }

    private static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int expected) {
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            assertEquals(expected, out.size(), "records read from " + topic);
            return out;
        }
    }
}
