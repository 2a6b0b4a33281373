package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.quant.CalibrationSums;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundLayerSums;
import dev.qig.schemas.internal.RoundState;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Samples whose sums come cut into several LayerStats records (one per decoder layer here), their
 * parts interleaved as several attributors interleave them: a round takes whole samples only and
 * sums them exactly as it sums whole records; no store record holds more than one layer's sums.
 * FAKE partial sums ({@link FakeStats}) on the TopologyTestDriver.
 */
class SamplesInPartsTest {

    private static final Instant START = Instant.parse("2026-11-29T12:00:00Z");

    @TempDir
    Path stateDir;

    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void stop() {
        cleanup.forEach(Runnable::run);
    }

    /** A driver of a fresh aggregator (its own registry scope and state directory). */
    private final class Harness {
        final TopologyTestDriver driver;
        final TestInputTopic<String, LayerStats> stats;
        final TestOutputTopic<String, CalibrationPlan> plans;
        final TestOutputTopic<String, QuantConfig> configs;
        final TestOutputTopic<byte[], byte[]> dlq;

        Harness(String name) {
            String scope = "parts-" + UUID.randomUUID();
            SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
            Map<String, Object> props = new HashMap<>();
            props.put(AggregatorConfig.BOOTSTRAP_SERVERS, "unused:9092");
            props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
            props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
            props.put(AggregatorConfig.ROUND_SAMPLES, 3);
            props.put(AggregatorConfig.ROUND_MAX_DURATION_MS, 60_000L);
            props.put(AggregatorConfig.INSTANCE_ID, "ttd");
            props.put(AggregatorConfig.HTTP_PORT, -1);
            props.put(AggregatorConfig.REQUANTIZE_POLICY, "every-round");
            props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.resolve(name).toString());
            AggregatorConfig config = new AggregatorConfig(props);
            driver = new TopologyTestDriver(AggregatorTopology.build(config, registry), Aggregator.streamsProperties(config), START);
            stats = driver.createInputTopic(config.topic(Topics.Topic.LAYER_STATS), new StringSerializer(),
                    new AvroSerializer<LayerStats>(registry));
            plans = driver.createOutputTopic(config.topic(Topics.Topic.PLANS), new StringDeserializer(),
                    new AvroDeserializer<>(registry, CalibrationPlan.class));
            configs = driver.createOutputTopic(config.topic(Topics.Topic.CONFIGS), new StringDeserializer(),
                    new AvroDeserializer<>(registry, QuantConfig.class));
            dlq = driver.createOutputTopic(config.topic(Topics.Topic.DLQ), new ByteArrayDeserializer(), new ByteArrayDeserializer());
            cleanup.add(() -> {
                driver.close();
                MockSchemaRegistry.drop(scope);
            });
        }

        void send(LayerStats r) {
            stats.pipeInput(FakeStats.KEY.toString(), r);
        }

        RoundState state() {
            KeyValueStore<String, RoundState> store = driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
            return store.get(FakeStats.KEY.toString());
        }

        int held() {
            KeyValueStore<String, LayerStats> store = driver.getKeyValueStore(RoundProcessor.PENDING_STORE);
            int n = 0;
            try (KeyValueIterator<String, LayerStats> it = store.all()) {
                while (it.hasNext()) {
                    it.next();
                    n++;
                }
            }
            return n;
        }
    }

    /** The sample's records, one per decoder layer (a limit no layer fits in). */
    private static List<LayerStats> parts(String sampleId, long seed, long plan) {
        CalibrationSums sums = FakeStats.sums(seed, plan > 0);
        List<LayerStats> parts = Records.layerStatsParts(sampleId, FakeStats.KEY, FakeStats.SETTINGS, plan, sums, "clean",
                Instant.parse("2026-11-29T10:00:00Z").plusSeconds(seed), "fake-attributor", 1);
        assertEquals(2, parts.size(), "one part per layer");
        return parts;
    }

    @Test
    void interleavedPartsGiveTheSamePlansAndConfigsAsWholeRecords() {
        Harness whole = new Harness("whole");
        Harness cut = new Harness("cut");
        for (long plan = 0; plan <= 1; plan++) {
            for (int i = 1; i <= 3; i++) {
                whole.send(FakeStats.record("s" + i, 10 * plan + i, plan));
            }
            // s1 and s2 interleaved, s3's parts in reverse order.
            List<LayerStats> s1 = parts("s1", 10 * plan + 1, plan);
            List<LayerStats> s2 = parts("s2", 10 * plan + 2, plan);
            List<LayerStats> s3 = parts("s3", 10 * plan + 3, plan);
            cut.send(s1.get(0));
            cut.send(s2.get(0));
            cut.send(s1.get(1));
            assertEquals(1, cut.state().getSamples(), "s1 is whole; s2 is held");
            assertEquals(1, cut.held());
            cut.send(s3.get(1));
            cut.send(s2.get(1));
            assertEquals(2, cut.state().getSamples(), "two whole samples of three");
            assertEquals(1, cut.held());
            cut.send(s3.get(0));
            assertEquals(0, cut.held());
        }
        assertEquals(whole.plans.readValuesToList().stream().map(SamplesInPartsTest::withoutTime).toList(),
                cut.plans.readValuesToList().stream().map(SamplesInPartsTest::withoutTime).toList(), "plans 1 and 2");
        List<QuantConfig> a = whole.configs.readValuesToList();
        List<QuantConfig> b = cut.configs.readValuesToList();
        assertEquals(4, a.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).getGroups(), b.get(i).getGroups(), a.get(i).getMethod() + ": same alphas and scales");
        }
        assertTrue(whole.dlq.isEmpty() && cut.dlq.isEmpty());
    }

    @Test
    void aRoundClosesWithWholeSamplesOnlyAndEachStoreRecordHoldsOneLayer() {
        Harness h = new Harness("close");
        List<LayerStats> late = parts("s4", 4, 0);
        h.send(late.get(0)); // s4 starts first and is still incomplete when the round fills
        for (int i = 1; i <= 2; i++) {
            parts("s" + i, i, 0).forEach(h::send);
        }
        KeyValueStore<String, RoundLayerSums> layers = h.driver.getKeyValueStore(RoundProcessor.LAYER_SUMS_STORE);
        try (KeyValueIterator<String, RoundLayerSums> it = layers.all()) {
            int records = 0;
            while (it.hasNext()) {
                KeyValue<String, RoundLayerSums> e = it.next();
                records++;
                assertEquals(2, e.value.getSamples());
                assertTrue(e.value.getStatistics().stream().allMatch(g -> g.getLayer() == e.value.getStatistics().get(0).getLayer()),
                        e.key + " holds one layer");
            }
            assertEquals(2, records, "one record per layer");
        }
        parts("s3", 3, 0).forEach(h::send);
        CalibrationPlan plan = h.plans.readValue();
        assertEquals(3, plan.getSamples(), "s4 was not whole when s3 completed the round");
        assertEquals(0, h.held(), "s4's part went with plan 0");
        h.send(late.get(1));
        assertEquals(1, h.dlq.readRecordsToList().size(), "the rest of s4 is stale under plan 1");
        assertEquals(0, h.state().getSamples());
        try (KeyValueIterator<String, RoundLayerSums> it = layers.all()) {
            assertTrue(!it.hasNext(), "a closed round's sums are deleted");
        }
    }

    @Test
    void aRedeliveredPartCountsOnceAndBadPartNumbersAreDeadLettered() {
        Harness h = new Harness("bad");
        List<LayerStats> s1 = parts("s1", 1, 0);
        h.send(s1.get(0));
        h.send(s1.get(0));
        assertEquals(1, h.state().getDuplicates());
        assertEquals(1, h.held());
        h.send(s1.get(1));
        h.send(s1.get(1)); // the sample is summed: a redelivered part is a duplicate of it
        assertEquals(1, h.state().getSamples());
        assertEquals(2, h.state().getDuplicates());

        LayerStats outOfRange = parts("s2", 2, 0).get(1);
        outOfRange.setPart(5);
        h.send(outOfRange);
        LayerStats otherCount = parts("s3", 3, 0).get(0);
        h.send(otherCount);
        LayerStats disagreeing = parts("s3", 3, 0).get(1);
        disagreeing.setParts(3);
        h.send(disagreeing);
        assertEquals(2, h.dlq.readRecordsToList().size(), "part 5 of 2; a part saying 3 parts where its sibling said 2");
        assertEquals(1, h.state().getSamples());
    }

    private static CalibrationPlan withoutTime(CalibrationPlan p) {
        CalibrationPlan c = CalibrationPlan.newBuilder(p).build();
        c.setCreatedAt(Instant.EPOCH);
        return c;
    }
}
