package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replay: after {@link Aggregator#resetToBeginning}, the aggregator reads the retained layer-stats
 * topic from its start and publishes the same plans and configs again, bit for bit (only their
 * creation times differ). Partial sums are FAKE ({@link FakeStats}); under test is the reset and
 * the determinism of rounds over the log.
 */
class AggregatorReplayTest {

    private static final int N = 5;

    @TempDir
    Path tmp;

    @Test
    void aResetAggregatorRecomputesTheSameRoundsFromTheRetainedTopic() throws Exception {
        String scope = "replay-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            AggregatorConfig config = config(kafka, scope);
            String statsTopic = config.topic(Topics.Topic.LAYER_STATS);
            try (KafkaProducer<String, LayerStats> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                    kafka.bootstrapServers()), new StringSerializer(), new AvroSerializer<>(registry))) {
                try (Aggregator first = new Aggregator(config, registry)) {
                    first.start();
                    send(producer, statsTopic, 0, 1, 2, 3, 4, 5);       // round 1: statistics of plan 1
                    awaitRecords(kafka, config, Topics.Topic.PLANS, 1);
                    send(producer, statsTopic, 1, 11, 12, 3, 14, 15);     // round 2
                    send(producer, statsTopic, 0, 6);                   // stale: dead letter, in the replay too
                    awaitRecords(kafka, config, Topics.Topic.CONFIGS, 4);
                    awaitRecords(kafka, config, Topics.Topic.PLANS, 2);
                    send(producer, statsTopic, 2, 21, 22, 23, 24, 25);  // round 3
                    awaitRecords(kafka, config, Topics.Topic.CONFIGS, 8);
                }
            }
            List<QuantConfig> original = configs(kafka, registry, config);
            List<CalibrationPlan> originalPlans = plans(kafka, registry, config);

            Aggregator.resetToBeginning(config);
            try (Aggregator replay = new Aggregator(config, registry)) {
                replay.start();
                awaitRecords(kafka, config, Topics.Topic.CONFIGS, 16);
                awaitRecords(kafka, config, Topics.Topic.PLANS, 6);
            }
            List<QuantConfig> all = configs(kafka, registry, config);
            List<CalibrationPlan> allPlans = plans(kafka, registry, config);
            assertEquals(16, all.size(), "the replay published every config once more, and nothing else");
            assertEquals(6, allPlans.size());
            for (int i = 0; i < original.size(); i++) {
                QuantConfig before = original.get(i);
                QuantConfig again = all.get(original.size() + i);
                assertEquals(before.getConfigId(), again.getConfigId());
                assertEquals(before.getGroups(), again.getGroups(), before.getConfigId() + ": same alphas, scales and losses");
                assertEquals(before.getSamples(), again.getSamples());
                assertEquals(before.getProvenance().get("domains"), again.getProvenance().get("domains"));
            }
            for (int i = 0; i < originalPlans.size(); i++) {
                assertEquals(originalPlans.get(i).getGroups(), allPlans.get(originalPlans.size() + i).getGroups(),
                        "plan " + originalPlans.get(i).getVersion());
            }
            long staleLetters = TopicReads.readAll(kafka, config.topic(Topics.Topic.DLQ), Duration.ofSeconds(2)).size();
            assertEquals(2, staleLetters, "the stale record went to the dead-letter topic in both runs");
            assertTrue(original.stream().anyMatch(c -> c.getRound() == 3), "the last round was part of the comparison");
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private AggregatorConfig config(EmbeddedKafka kafka, String scope) {
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(AggregatorConfig.METRICS_PORT, -1);
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, N);
        // A plan and configs every round: the replay must reproduce a history of several of each.
        props.put(AggregatorConfig.REQUANTIZE_POLICY, AggregatorConfig.RequantizePolicy.EVERY_ROUND.id());
        props.put(AggregatorConfig.HTTP_PORT, -1);
        props.put(AggregatorConfig.APPLICATION_ID, "agg-replay");
        props.put("state.dir", tmp.resolve("state").toString());
        props.put("commit.interval.ms", 100);
        return new AggregatorConfig(props);
    }

    private static void send(KafkaProducer<String, LayerStats> producer, String topic, long plan, int... seeds)
            throws Exception {
        for (int seed : seeds) {
            producer.send(new ProducerRecord<>(topic, FakeStats.KEY.toString(), FakeStats.record("s" + seed, seed, plan))).get();
        }
    }

    private static void awaitRecords(EmbeddedKafka kafka, AggregatorConfig config, Topics.Topic topic, int count) {
        long deadline = System.currentTimeMillis() + 90_000;
        while (System.currentTimeMillis() < deadline) {
            if (TopicReads.readAll(kafka, config.topic(topic), Duration.ofSeconds(1)).size() >= count) {
                return;
            }
        }
        throw new AssertionError("fewer than " + count + " records on " + config.topic(topic));
    }

    private static List<QuantConfig> configs(EmbeddedKafka kafka, SchemaRegistryClient registry, AggregatorConfig config) {
        AvroDeserializer<QuantConfig> d = new AvroDeserializer<>(registry, QuantConfig.class);
        List<QuantConfig> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReads.readAll(kafka, config.topic(Topics.Topic.CONFIGS), Duration.ofSeconds(2))) {
            out.add(d.deserialize(r.topic(), r.value()));
        }
        // Configs are keyed by method, over several partitions: creation time orders them (the replay's come later).
        out.sort(java.util.Comparator.comparing(QuantConfig::getCreatedAt).thenComparing(QuantConfig::getConfigId));
        return out;
    }

    private static List<CalibrationPlan> plans(EmbeddedKafka kafka, SchemaRegistryClient registry, AggregatorConfig config) {
        AvroDeserializer<CalibrationPlan> d = new AvroDeserializer<>(registry, CalibrationPlan.class);
        List<CalibrationPlan> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReads.readAll(kafka, config.topic(Topics.Topic.PLANS), Duration.ofSeconds(2))) {
            out.add(d.deserialize(r.topic(), r.value()));
        }
        return out;
    }
}
