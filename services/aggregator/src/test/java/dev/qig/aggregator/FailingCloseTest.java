package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.aggregator.internals.AggregatorMetrics;
import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.aggregator.internals.ScaleSearcher;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.quant.Method;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A close that fails midway (the third of four methods' searches throws, after RTN's and AWQ's
 * configs were computed) applies none of itself: no config is sent, no plan, the round stays open
 * with its samples and the failure is counted; the next time check closes it, and its configs are
 * those of a close that never failed. FAKE partial sums ({@link FakeStats}).
 */
class FailingCloseTest {

    private static final Instant START = Instant.parse("2026-11-29T12:00:00Z");

    @TempDir
    Path stateDir;

    @Test
    void aCloseThatFailsMidwayAppliesNothingAndTheRetryGivesTheConfigsOfACleanClose() {
        AtomicBoolean failOnce = new AtomicBoolean(true);
        ScaleSearcher failing = (m, sums, plan, settings, model, version, round, provenance) -> {
            if (m == Method.MBQ && failOnce.getAndSet(false)) {
                throw new IllegalStateException("injected: MBQ's search fails once");
            }
            return ScaleSearcher.DEFAULT.search(m, sums, plan, settings, model, version, round, provenance);
        };
        Map<String, QuantConfig> retried;
        try (Run run = new Run(stateDir.resolve("failing"), failing)) {
            run.searchRound();
            assertTrue(run.configs.isEmpty(), "no config of the failed close is sent");
            assertTrue(run.plans.isEmpty(), "no plan after the failed close");
            RoundState open = run.rounds().get(FakeStats.KEY.toString());
            assertEquals(2, open.getRound(), "the first search round stays open");
            assertEquals(3, open.getSamples(), "with every sample summed");
            assertEquals(1.0, run.closeFailures());

            run.driver.advanceWallClockTime(Duration.ofMinutes(2)); // the time check closes it again
            retried = run.configsByMethod();
            assertEquals(1.0, run.closeFailures(), "counted once");
        }
        Map<String, QuantConfig> clean;
        try (Run run = new Run(stateDir.resolve("clean"), ScaleSearcher.DEFAULT)) {
            run.searchRound();
            clean = run.configsByMethod();
        }
        assertEquals(clean.keySet(), retried.keySet());
        clean.forEach((method, c) -> {
            QuantConfig r = retried.get(method);
            assertEquals(c.getGroups(), r.getGroups(), method + ": same alphas, scales and losses");
            assertEquals(3, r.getSamples(), method);
        });
    }

    /** An aggregator on the TopologyTestDriver that has published its first plan. */
    private static final class Run implements AutoCloseable {
        final String scope = "close-" + UUID.randomUUID();
        final SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        final AggregatorMetrics metrics = new AggregatorMetrics(ServiceMetrics.withoutJvm("aggregator"));
        final TopologyTestDriver driver;
        final TestInputTopic<String, LayerStats> stats;
        final TestOutputTopic<String, CalibrationPlan> plans;
        final TestOutputTopic<String, QuantConfig> configs;

        Run(Path stateDir, ScaleSearcher searcher) {
            Map<String, Object> props = new HashMap<>();
            props.put(AggregatorConfig.BOOTSTRAP_SERVERS, "unused:9092");
            props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
            props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
            props.put(AggregatorConfig.ROUND_SAMPLES, 3);
            props.put(AggregatorConfig.ROUND_MAX_DURATION_MS, 60_000L);
            props.put(AggregatorConfig.INSTANCE_ID, "ttd");
            props.put(AggregatorConfig.HTTP_PORT, -1);
            props.put(AggregatorConfig.REQUANTIZE_POLICY, "every-round");
            props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            AggregatorConfig config = new AggregatorConfig(props);
            driver = new TopologyTestDriver(AggregatorTopology.build(config, registry, metrics, searcher),
                    Aggregator.streamsProperties(config), START);
            stats = driver.createInputTopic(config.topic(Topics.Topic.LAYER_STATS), new StringSerializer(),
                    new AvroSerializer<LayerStats>(registry));
            plans = driver.createOutputTopic(config.topic(Topics.Topic.PLANS), new StringDeserializer(),
                    new AvroDeserializer<>(registry, CalibrationPlan.class));
            configs = driver.createOutputTopic(config.topic(Topics.Topic.CONFIGS), new StringDeserializer(),
                    new AvroDeserializer<>(registry, QuantConfig.class));
            for (int i = 1; i <= 3; i++) {
                stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("s" + i, i, 0));
            }
            assertEquals(1, plans.readValue().getVersion());
        }

        /** The three samples of the first search round: the round's close runs. */
        void searchRound() {
            for (int i = 1; i <= 3; i++) {
                stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("s" + i, 10 + i, 1));
            }
        }

        KeyValueStore<String, RoundState> rounds() {
            return driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
        }

        Map<String, QuantConfig> configsByMethod() {
            Map<String, QuantConfig> out = new TreeMap<>();
            configs.readValuesToList().forEach(c -> assertEquals(null, out.put(c.getMethod(), c), "one config per method"));
            assertEquals(4, out.size(), "a config per method: " + out.keySet());
            return out;
        }

        double closeFailures() {
            return metrics.service().registry().scrape().stream()
                    .filter(s -> s.getMetadata().getPrometheusName().equals("qig_round_close_failures"))
                    .flatMap(s -> s.getDataPoints().stream())
                    .mapToDouble(p -> ((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) p)
                            .getValue()).sum();
        }

        @Override
        public void close() {
            driver.close();
            MockSchemaRegistry.drop(scope);
        }
    }
}
