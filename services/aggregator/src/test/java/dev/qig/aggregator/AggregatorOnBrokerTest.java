package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.metrics.PrometheusText;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.LayerStats;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The aggregator as a service on a real in-process broker (exactly-once, real changelogs): bytes
 * that are not Avro go to the dead-letter topic through Kafka Streams' handler, good records close
 * a round, and the HTTP endpoint answers with its rounds and plans. Partial sums are FAKE
 * ({@link FakeStats}); the end-to-end tests with the real engine are in the app module.
 */
class AggregatorOnBrokerTest {

    private static EmbeddedKafka kafka;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void broker() {
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stopBroker() {
        kafka.close();
    }

    @Test
    void badBytesAreDeadLetteredAndGoodRecordsCloseARound() throws Exception {
        String scope = "broker-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, 3);
        props.put(AggregatorConfig.HTTP_PORT, 0);
        props.put(AggregatorConfig.METRICS_PORT, 0);
        props.put(AggregatorConfig.APPLICATION_ID, "agg-" + UUID.randomUUID());
        props.put(AggregatorConfig.TOPICS_PARTITIONS, 2);
        props.put("state.dir", stateDir.toString());
        props.put("commit.interval.ms", 100);
        AggregatorConfig config = new AggregatorConfig(props);
        String statsTopic = config.topic(Topics.Topic.LAYER_STATS);
        try (Aggregator aggregator = new Aggregator(config, registry)) {
            aggregator.start();
            AvroSerializer<LayerStats> serializer = new AvroSerializer<>(registry);
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                    kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>(statsTopic, "junk".getBytes(), "not avro".getBytes())).get();
                byte[] wire = serializer.serialize(statsTopic, FakeStats.record("x", 9, 0));
                producer.send(new ProducerRecord<>(statsTopic, FakeStats.KEY.toString().getBytes(),
                        java.util.Arrays.copyOf(wire, 30))).get();
                for (int i = 1; i <= 3; i++) {
                    producer.send(new ProducerRecord<>(statsTopic, FakeStats.KEY.toString().getBytes(),
                            serializer.serialize(statsTopic, FakeStats.record("s" + i, i, 0)))).get();
                }
            }
            List<ConsumerRecord<byte[], byte[]>> letters = read(config.topic(Topics.Topic.DLQ), 2, r -> true);
            List<String> reasons = new ArrayList<>();
            letters.forEach(r -> reasons.add(DeadLetters.header(r.headers(), DeadLetters.REASON)));
            assertEquals(List.of("corrupt_avro", "not_wire_format"), reasons.stream().sorted().toList());
            letters.forEach(r -> assertEquals(statsTopic, DeadLetters.header(r.headers(), DeadLetters.TOPIC)));

            List<ConsumerRecord<byte[], byte[]>> plans = read(config.topic(Topics.Topic.PLANS), 1, r -> true);
            CalibrationPlan plan = new AvroDeserializer<>(registry, CalibrationPlan.class)
                    .deserialize(config.topic(Topics.Topic.PLANS), plans.get(0).value());
            assertEquals(1, plan.getVersion());
            assertEquals(3, plan.getSamples());
            assertEquals(FakeStats.KEY.toString(), new String(plans.get(0).key()));

            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + aggregator.httpPort();
            HttpResponse<String> rounds = http.send(HttpRequest.newBuilder(URI.create(base + "/rounds")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, rounds.statusCode());
            assertTrue(rounds.body().contains("\"round\":2") && rounds.body().contains("\"planVersion\":1"), rounds.body());
            HttpResponse<String> plansJson = http.send(HttpRequest.newBuilder(URI.create(base + "/plans")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(plansJson.body().contains("\"version\": 1") || plansJson.body().contains("\"version\":1"),
                    plansJson.body());

            // A search round: the initial calibration, whose drift statistics /rounds shows.
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                    kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 1; i <= 3; i++) {
                    producer.send(new ProducerRecord<>(statsTopic, FakeStats.KEY.toString().getBytes(),
                            serializer.serialize(statsTopic, FakeStats.record("s" + i, 10 + i, 1)))).get();
                }
            }
            String body = "";
            long deadline = System.currentTimeMillis() + 60_000;
            while (!body.contains("\"round\":3") && System.currentTimeMillis() < deadline) {
                Thread.sleep(200);
                body = http.send(HttpRequest.newBuilder(URI.create(base + "/rounds")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
            }
            assertTrue(body.contains("\"drift\":{\"round\":2") && body.contains("\"muShift\""), body);
            assertEquals(4, read(config.topic(Topics.Topic.CONFIGS), 4, r -> true).size());

            // The metrics endpoint tells the same story: dead letters by reason, samples, rounds, configs, the stream.
            String metricsBase = aggregator.metrics().baseUrl();
            String scrape = http.send(HttpRequest.newBuilder(URI.create(metricsBase + ServiceMetrics.METRICS_PATH)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            PrometheusText m = PrometheusText.parse(scrape);
            // promtool's rules, on every name the aggregator serves, Kafka Streams' bridged ones included.
            assertEquals(List.of(), dev.qig.kafka.metrics.PromLint.problems(scrape));
            assertTrue(m.names().contains("qig_kafka_stream_thread_blocked_time_seconds_total"), "ns became seconds");
            assertEquals(1.0, m.series("qig_dead_letters_total", l -> "corrupt_avro".equals(l.get("reason"))).get(0).value());
            assertEquals(1.0, m.series("qig_dead_letters_total", l -> "not_wire_format".equals(l.get("reason"))).get(0).value());
            assertEquals(2.0, m.sum("qig_dead_letters_total"));
            assertEquals(6.0, m.sum("qig_samples_summed_total"));
            assertEquals(2.0, m.sum("qig_rounds_closed_total"));
            assertEquals(4.0, m.sum("qig_configs_emitted_total"));
            assertEquals(3.0, m.sum("qig_round_number"));
            assertEquals(2.0, m.sum("qig_drift_check_round"));
            assertEquals(FakeStats.MODEL, m.series("qig_round_number").get(0).label("model"));
            assertTrue(m.sum("qig_kafka_stream_thread_process_total") >= 6, "Kafka Streams' thread metrics");
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(metricsBase + ServiceMetrics.READY_PATH)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "ready while RUNNING");
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private static List<ConsumerRecord<byte[], byte[]>> read(String topic, int n, Predicate<ConsumerRecord<byte[], byte[]>> keep) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "group.id", "read-" + UUID.randomUUID(), "auto.offset.reset", "earliest", "isolation.level", "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            while (out.size() < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (keep.test(r)) {
                        out.add(r);
                    }
                }
            }
        }
        assertEquals(n, out.size(), "records on " + topic);
        return out;
    }
}
