package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping the aggregator in the middle of a round, throwing its local state away (or leaving it
 * as a crash does) and starting it again (so that it restores from its changelogs) gives the plans
 * and configs of an uninterrupted run on the same records: nothing lost, nothing counted twice, redeliveries included. Partial
 * sums are FAKE ({@link FakeStats}); what is under test is the aggregator's state.
 */
class AggregatorRestartTest {

    private static final int N = 6;

    @TempDir
    Path tmp;

    @Test
    void aRestartMidRoundGivesTheConfigsOfAnUninterruptedRun() throws Exception {
        String scope = "restart-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            AggregatorConfig interrupted = config(kafka, scope, "interrupted", "");
            String statsTopic = interrupted.topic(Topics.Topic.LAYER_STATS);
            AvroSerializer<LayerStats> serializer = new AvroSerializer<>(registry);
            try (KafkaProducer<String, LayerStats> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                    kafka.bootstrapServers()), new StringSerializer(), serializer)) {
                Aggregator first = new Aggregator(interrupted, registry);
                first.start();
                send(producer, statsTopic, 0, 1, 2, 3);
                awaitSamples(first, 3);
                first.close();
                deleteState(interrupted);

                Aggregator second = new Aggregator(interrupted, registry);
                second.start();
                assertFalse(second.recoveredFromUncleanStop(), "no local state: nothing to recover");
                send(producer, statsTopic, 0, 2, 3); // redelivered after the restart
                send(producer, statsTopic, 0, 4, 5, 6);
                awaitPlan(kafka, registry, interrupted, 1);
                send(producer, statsTopic, 1, 11, 12, 13, 14);
                awaitSamples(second, 4);
                // A crash: the local state as it is mid-run (exactly-once keeps no checkpoint then), no clean close.
                Path crashed = tmp.resolve("crashed");
                copy(stateDir(interrupted), crashed);
                second.close();
                deleteState(interrupted);
                copy(crashed, stateDir(interrupted));

                Aggregator third = new Aggregator(interrupted, registry);
                third.start();
                assertTrue(third.recoveredFromUncleanStop(), "the crashed run's local state is rebuilt from the changelogs");
                send(producer, statsTopic, 1, 14, 15, 16);
                Map<String, QuantConfig> afterRestarts = awaitConfigs(kafka, registry, interrupted);
                third.close();

                // The same records, read by an aggregator that never stops.
                AggregatorConfig reference = config(kafka, scope, "uninterrupted", "reference-");
                try (Aggregator steady = new Aggregator(reference, registry)) {
                    steady.start();
                    Map<String, QuantConfig> uninterrupted = awaitConfigs(kafka, registry, reference);
                    assertEquals(uninterrupted.keySet(), afterRestarts.keySet());
                    uninterrupted.forEach((method, c) -> {
                        QuantConfig r = afterRestarts.get(method);
                        assertEquals(c.getGroups(), r.getGroups(), method + ": same alphas, scales and losses");
                        assertEquals(N, r.getSamples(), method + ": every sample once");
                        assertEquals(c.getPlanVersion(), r.getPlanVersion());
                    });
                    assertEquals(plans(kafka, registry, reference).get(1L).getGroups(),
                            plans(kafka, registry, interrupted).get(1L).getGroups(), "same first plan");
                    assertEquals("1", afterRestarts.get("qig").getProvenance().get("duplicatesSkipped"),
                            "the sample redelivered after the restart was skipped once");
                }
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /**
     * The round's sums and its state are written to their stores (and changelogs) only when a task
     * commits (RoundSumsStore, RoundStateStore). With commits only at hand-overs (a commit interval of 9 s, under the 10 s transaction timeout), the round
     * lives in memory between them: handing the task to another instance mid-round (a rebalance), then
     * a restart from the changelogs alone, must still give the configs of an uninterrupted run, every
     * sample once. Were the sums not written back before a hand-over's commit, the next instance would
     * find them missing or behind the round's count (and refuse to go on); were they written twice or
     * from a rolled-back transaction, the counts or the configs would differ.
     */
    @Test
    void aHandOverMidRoundWithCommitsOnlyAtHandOversLosesAndRepeatsNothing() throws Exception {
        String scope = "handover-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            AggregatorConfig a = config(kafka, scope, "handover", "", "state-a", 9_000);
            AggregatorConfig b = config(kafka, scope, "handover", "", "state-b", 9_000);
            String statsTopic = a.topic(Topics.Topic.LAYER_STATS);
            try (KafkaProducer<String, LayerStats> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                    kafka.bootstrapServers()), new StringSerializer(), new AvroSerializer<>(registry))) {
                Aggregator first = new Aggregator(a, registry);
                first.start();
                send(producer, statsTopic, 0, 1, 2, 3);
                awaitSamples(first, 3);
                Aggregator second = new Aggregator(b, registry);
                second.start();
                first.close(); // the task goes to the second instance, which restores it from the changelogs
                awaitRound(second, 1, 3);
                send(producer, statsTopic, 0, 2, 4, 5, 6); // 2 again: a redelivery
                send(producer, statsTopic, 1, 11, 12, 13, 14);
                awaitRound(second, 2, 4);
                second.close();
                deleteState(b);

                // Outputs are read committed: the last instance commits as usual.
                Aggregator third = new Aggregator(config(kafka, scope, "handover", "", "state-b", 100), registry);
                third.start();
                send(producer, statsTopic, 1, 14, 15, 16);
                Map<String, QuantConfig> afterHandOvers = awaitConfigs(kafka, registry, b);
                third.close();

                AggregatorConfig reference = config(kafka, scope, "steady", "reference-");
                try (Aggregator steady = new Aggregator(reference, registry)) {
                    steady.start();
                    Map<String, QuantConfig> uninterrupted = awaitConfigs(kafka, registry, reference);
                    assertEquals(uninterrupted.keySet(), afterHandOvers.keySet());
                    uninterrupted.forEach((method, c) -> {
                        QuantConfig r = afterHandOvers.get(method);
                        assertEquals(c.getGroups(), r.getGroups(), method + ": same alphas, scales and losses");
                        assertEquals(N, r.getSamples(), method + ": every sample once");
                    });
                    assertEquals(plans(kafka, registry, reference).get(1L).getGroups(),
                            plans(kafka, registry, b).get(1L).getGroups(), "same first plan");
                    assertEquals("1", afterHandOvers.get("qig").getProvenance().get("duplicatesSkipped"),
                            "the sample sent again after the restart was skipped once");
                    // The round's state (samples, duplicates, domains, event times) lives in memory between commits
                    // too (RoundStateStore): its provenance must be the uninterrupted run's.
                    Map<String, String> expected = new TreeMap<>(uninterrupted.get("qig").getProvenance());
                    Map<String, String> got = new TreeMap<>(afterHandOvers.get("qig").getProvenance());
                    expected.remove("aggregator");
                    got.remove("aggregator");
                    assertEquals(expected, got, "the round's state across the hand-overs");
                }
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private AggregatorConfig config(EmbeddedKafka kafka, String scope, String name, String outputPrefix) {
        return config(kafka, scope, name, outputPrefix, "state-" + name, 100);
    }

    private AggregatorConfig config(EmbeddedKafka kafka, String scope, String name, String outputPrefix, String stateDir,
                                    int commitIntervalMs) {
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(AggregatorConfig.METRICS_PORT, -1);
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, N);
        props.put(AggregatorConfig.HTTP_PORT, -1);
        props.put(AggregatorConfig.APPLICATION_ID, "agg-" + name);
        props.put(AggregatorConfig.INSTANCE_ID, name);
        props.put(Topics.Topic.PLANS.configKey(), outputPrefix + Topics.Topic.PLANS.defaultName());
        props.put(Topics.Topic.CONFIGS.configKey(), outputPrefix + Topics.Topic.CONFIGS.defaultName());
        props.put("state.dir", tmp.resolve(stateDir).toString());
        props.put("commit.interval.ms", commitIntervalMs);
        return new AggregatorConfig(props);
    }

    private static void send(KafkaProducer<String, LayerStats> producer, String topic, long plan, int... seeds)
            throws Exception {
        for (int seed : seeds) {
            producer.send(new ProducerRecord<>(topic, FakeStats.KEY.toString(), FakeStats.record("s" + seed, seed, plan))).get();
        }
    }

    private static void awaitSamples(Aggregator aggregator, long samples) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            if (aggregator.isRunning()) {
                List<RoundStatus> rounds = aggregator.rounds();
                if (!rounds.isEmpty() && rounds.get(0).samples() == samples) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the aggregator did not reach " + samples + " samples");
    }

    private static Path stateDir(AggregatorConfig config) {
        return Path.of(config.originals().get("state.dir").toString());
    }

    private static void copy(Path from, Path to) throws Exception {
        try (var files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals(".lock")) {
                    Files.copy(p, target);
                }
            }
        }
    }

    /** Waits until the open round is {@code round} with {@code samples} samples (the store may be restoring meanwhile). */
    private static void awaitRound(Aggregator aggregator, long round, long samples) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            try {
                List<RoundStatus> rounds = aggregator.isRunning() ? aggregator.rounds() : List.of();
                if (!rounds.isEmpty() && rounds.get(0).round() == round && rounds.get(0).samples() == samples) {
                    return;
                }
            } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
                // rebalancing or restoring: the store comes back
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the aggregator did not reach " + samples + " samples in round " + round);
    }

    private static void deleteState(AggregatorConfig config) throws Exception {
        Path dir = stateDir(config);
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        assertTrue(!Files.exists(dir), "local state is gone: a restart must restore from the changelogs");
    }

    private static void awaitPlan(EmbeddedKafka kafka, SchemaRegistryClient registry, AggregatorConfig config, long version) {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            if (plans(kafka, registry, config).containsKey(version)) {
                return;
            }
        }
        throw new AssertionError("no plan " + version);
    }

    private static Map<Long, CalibrationPlan> plans(EmbeddedKafka kafka, SchemaRegistryClient registry, AggregatorConfig config) {
        Map<Long, CalibrationPlan> out = new TreeMap<>();
        AvroDeserializer<CalibrationPlan> d = new AvroDeserializer<>(registry, CalibrationPlan.class);
        for (ConsumerRecord<String, byte[]> r : TopicReads.readAll(kafka, config.topic(Topics.Topic.PLANS), Duration.ofSeconds(2))) {
            CalibrationPlan p = d.deserialize(r.topic(), r.value());
            out.put(p.getVersion(), p);
        }
        return out;
    }

    /** The configs of the first search round, by method. */
    private static Map<String, QuantConfig> awaitConfigs(EmbeddedKafka kafka, SchemaRegistryClient registry,
                                                         AggregatorConfig config) {
        AvroDeserializer<QuantConfig> d = new AvroDeserializer<>(registry, QuantConfig.class);
        long deadline = System.currentTimeMillis() + 90_000;
        while (System.currentTimeMillis() < deadline) {
            Map<String, QuantConfig> out = new TreeMap<>();
            for (ConsumerRecord<String, byte[]> r : TopicReads.readAll(kafka, config.topic(Topics.Topic.CONFIGS), Duration.ofSeconds(2))) {
                QuantConfig c = d.deserialize(r.topic(), r.value());
                assertTrue(out.put(c.getMethod(), c) == null, "one config per method: " + c.getMethod() + " twice");
            }
            if (out.size() == 4) {
                return out;
            }
        }
        throw new AssertionError("no configs on " + config.topic(Topics.Topic.CONFIGS));
    }
}
