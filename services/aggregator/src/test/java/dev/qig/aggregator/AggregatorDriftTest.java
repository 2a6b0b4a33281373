package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationSums;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.GroupDrift;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.DriftCheck;
import dev.qig.schemas.internal.RoundProgress;
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
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drift detection and re-quantization on Kafka Streams' TopologyTestDriver, with FAKE partial sums
 * ({@link FakeStats#searchSums}) whose statistics and per-alpha errors can be held or moved
 * separately. Every round takes the same three statistics seeds unless a test shifts them, so a
 * steady stream has exactly the plan's mu and the emitted configs' losses.
 */
class AggregatorDriftTest {

    private static final Instant START = Instant.parse("2026-11-29T12:00:00Z");
    private static final int SAMPLES = 3;
    /** Where QIG's loss is lowest after the jump: far from FakeStats.QIG_BEST, so the regret is large. */
    private static final int JUMPED_QIG_BEST = 2;

    @TempDir
    Path stateDir;

    private String scope;
    private SchemaRegistryClient registry;
    private AggregatorConfig config;
    private TopologyTestDriver driver;
    private TestInputTopic<String, LayerStats> stats;
    private TestInputTopic<String, ActiveConfig> active;
    private TestOutputTopic<String, CalibrationPlan> plans;
    private TestOutputTopic<String, QuantConfig> configs;
    private TestOutputTopic<String, DriftEvent> drifts;
    private int round;

    private void start(Map<String, Object> overrides) {
        scope = "drift-" + UUID.randomUUID();
        registry = MockSchemaRegistry.scope(scope);
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, "unused:9092");
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, SAMPLES);
        props.put(AggregatorConfig.INSTANCE_ID, "ttd");
        props.put(AggregatorConfig.HTTP_PORT, -1);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.putAll(overrides);
        config = new AggregatorConfig(props);
        driver = newDriver();
    }

    private TopologyTestDriver newDriver() {
        TopologyTestDriver d = new TopologyTestDriver(AggregatorTopology.build(config, registry),
                Aggregator.streamsProperties(config), START);
        stats = d.createInputTopic(config.topic(Topics.Topic.LAYER_STATS), new StringSerializer(),
                new AvroSerializer<LayerStats>(registry));
        active = d.createInputTopic(config.topic(Topics.Topic.ACTIVE_CONFIGS), new StringSerializer(),
                new AvroSerializer<ActiveConfig>(registry));
        plans = d.createOutputTopic(config.topic(Topics.Topic.PLANS), new StringDeserializer(),
                new AvroDeserializer<>(registry, CalibrationPlan.class));
        configs = d.createOutputTopic(config.topic(Topics.Topic.CONFIGS), new StringDeserializer(),
                new AvroDeserializer<>(registry, QuantConfig.class));
        drifts = d.createOutputTopic(config.topic(Topics.Topic.DRIFT_EVENTS), new StringDeserializer(),
                new AvroDeserializer<>(registry, DriftEvent.class));
        return d;
    }

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
            MockSchemaRegistry.drop(scope);
        }
    }

    /** Round 1: statistics under the empty plan, with the steady seeds. */
    private void statisticsRound() {
        round++;
        for (int i = 1; i <= SAMPLES; i++) {
            stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("r" + round + "-s" + i,
                    FakeStats.statisticsSums(i, 0), 0, "clean"));
        }
    }

    /** A search round under {@code plan}: the steady statistics seeds, their odd channels grown, QIG's minimum at qigBest. */
    private void searchRound(long plan, double oddChannelGrowth, int qigBest, String domain) {
        round++;
        for (int i = 1; i <= SAMPLES; i++) {
            CalibrationSums sums = FakeStats.searchSums(i, oddChannelGrowth, FakeStats.AWQ_BEST, FakeStats.MBQ_BEST, qigBest);
            stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("r" + round + "-s" + i, sums, plan, domain));
        }
    }

    private Map<String, QuantConfig> readConfigs() {
        Map<String, QuantConfig> out = new HashMap<>();
        for (QuantConfig c : configs.readValuesToList()) {
            assertNull(out.put(c.getMethod(), c), "one config per method");
        }
        return out;
    }

    private static void assertQigAlpha(int index, QuantConfig qig) {
        for (GroupChoice g : qig.getGroups()) {
            assertEquals(AlphaGrid.alpha(index), g.getAlpha(), 0.0, "qig alpha of " + g.getLayer() + "." + g.getGroup());
        }
    }

    private RoundState roundState() {
        KeyValueStore<String, RoundState> store = driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
        return store.get(FakeStats.KEY.toString());
    }

    private DriftCheck lastCheck() {
        KeyValueStore<String, RoundProgress> store = driver.getKeyValueStore(RoundProcessor.PROGRESS_STORE);
        return store.get(FakeStats.KEY.toString()).getLastDriftCheck();
    }

    @Test
    void onDriftIsTheDefault() {
        start(Map.of());
        assertEquals(AggregatorConfig.RequantizePolicy.ON_DRIFT, config.requantizePolicy());
        assertEquals(new AggregatorConfig.DriftThresholds(dev.qig.quant.Method.QIG, 0.05, 0.07, 0.06, 2),
                config.driftThresholds());
    }

    @Test
    void aSteadyStreamCalibratesOnceAndThenOnlyMonitors() {
        start(Map.of());
        statisticsRound();
        assertEquals(1, plans.readValue().getVersion());
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        Map<String, QuantConfig> initial = readConfigs();
        assertEquals(List.of("awq", "mbq", "qig", "rtn"), initial.keySet().stream().sorted().toList(),
                "the first search round is the initial calibration");
        assertQigAlpha(FakeStats.QIG_BEST, initial.get("qig"));
        initial.values().forEach(c -> assertEquals("statistics", c.getProvenance().get("planReason"),
                "calibrated under the first plan, built from the statistics round"));
        for (int i = 0; i < 5; i++) {
            searchRound(1, 0, FakeStats.QIG_BEST, "clean");
            DriftCheck check = lastCheck();
            assertEquals(round, check.getRound());
            assertEquals(0.0, check.getMaxRegret(), 0.0, "the same errors as the config's round: no regret");
            assertEquals(0.0, check.getMaxMuShift(), 0.0, "the same statistics as the plan's round: no shift");
            assertEquals(0, check.getRoundsOver());
            assertEquals(6, check.getGroups().size());
        }
        assertTrue(drifts.isEmpty(), "no drift event");
        assertTrue(configs.isEmpty(), "monitoring rounds emit no configs");
        assertTrue(plans.isEmpty(), "the plan is kept");
        assertEquals(1, roundState().getPlanVersion());
    }

    @Test
    void aRegretJumpForKRoundsEmitsOneDriftEventThenAPlanThenNewConfigs() {
        start(Map.of());
        statisticsRound();
        CalibrationPlan first = plans.readValue();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        readConfigs();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");

        searchRound(1, 0, JUMPED_QIG_BEST, "night"); // round 4: one round over is not yet a drift
        assertTrue(drifts.isEmpty());
        assertEquals(1, roundState().getRoundsOverDriftThreshold());
        // QIG's loss at its old alpha 11 against the new best 2: the bowl 1 + 0.01 (a - best)^2 gives 0.81.
        assertEquals(0.81, lastCheck().getMaxRegret(), 1e-3);
        assertEquals(0.81, lastCheck().getMaxRegretByMethod().get("qig"), 1e-3);
        assertEquals(0.0, lastCheck().getMaxRegretByMethod().get("awq"), 0.0, "AWQ's errors did not move");
        assertTrue(plans.isEmpty());

        searchRound(1, 0, JUMPED_QIG_BEST, "night"); // round 5: the second in a row confirms it
        List<TestRecord<String, DriftEvent>> events = drifts.readRecordsToList();
        assertEquals(1, events.size(), "exactly one drift event");
        DriftEvent e = events.get(0).value();
        assertEquals(FakeStats.MODEL + "/w3a16", events.get(0).key());
        assertEquals(5, e.getRound());
        assertEquals(1, e.getPlanVersion());
        assertEquals("regret", e.getReason());
        assertEquals(0.05, e.getThreshold(), 0.0);
        assertEquals(2, e.getConsecutiveRounds());
        assertEquals(2L, e.getNewPlanVersion());
        assertEquals(Map.of("night", 3L), e.getDomains());
        assertEquals("qig", e.getMethod());
        assertEquals(FakeStats.KEY.toString(), e.getRoundKey());
        assertEquals(6, e.getGroups().size(), "every group moved");
        for (GroupDrift g : e.getGroups()) {
            assertEquals(0.81, g.getRegret(), 1e-3);
            assertEquals(0.0, g.getMuShift(), 0.0);
        }
        CalibrationPlan second = plans.readValue();
        assertEquals(2, second.getVersion());
        assertEquals(5, second.getFromRound(), "built from the drifted round");
        assertEquals(first.getGroups(), second.getGroups(), "same statistics, same mu");
        assertTrue(configs.isEmpty(), "the drifted round itself emits no configs");
        assertTrue(lastCheck().getDriftConfirmed());
        assertEquals(2, lastCheck().getRoundsOver(), "the confirming check shows the rounds that confirmed it");
        assertEquals(0, roundState().getRoundsOverDriftThreshold(), "the count starts again");

        searchRound(2, 0, JUMPED_QIG_BEST, "night"); // round 6: the re-quantization
        Map<String, QuantConfig> requantized = readConfigs();
        assertEquals(4, requantized.size());
        assertEquals(2, requantized.get("qig").getPlanVersion());
        assertQigAlpha(JUMPED_QIG_BEST, requantized.get("qig"));
        requantized.values().forEach(c -> {
            assertEquals("drift", c.getProvenance().get("planReason"), "calibrated under the plan the drift built");
            assertEquals("night=" + SAMPLES, c.getProvenance().get("domains"), "the drifted traffic the evaluator will judge on");
        });
        assertTrue(drifts.isEmpty());

        for (int i = 0; i < 3; i++) { // monitoring resumes against the new configs
            searchRound(2, 0, JUMPED_QIG_BEST, "night");
            assertEquals(0.0, lastCheck().getMaxRegret(), 0.0);
        }
        assertTrue(drifts.isEmpty());
        assertTrue(configs.isEmpty());
        assertTrue(plans.isEmpty());
    }

    @Test
    void aRegretSpikeOfOneRoundIsNoDrift() {
        start(Map.of());
        statisticsRound();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        searchRound(1, 0, JUMPED_QIG_BEST, "night");
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        searchRound(1, 0, JUMPED_QIG_BEST, "night");
        assertTrue(drifts.isEmpty(), "never two rounds in a row");
        assertEquals(1, roundState().getRoundsOverDriftThreshold());
    }

    @Test
    void aShiftOfTheChannelMeansConfirmsADriftAndTheNewPlanFollowsThem() {
        start(Map.of());
        statisticsRound();
        CalibrationPlan first = plans.readValue();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        readConfigs();
        searchRound(1, 1.0, FakeStats.QIG_BEST, "bright"); // odd channels doubled
        double shift = lastCheck().getMaxMuShift();
        double median = lastCheck().getMedianMuShift();
        assertTrue(median > 0.07 && median <= shift && shift < 1.0, "median shift " + median + ", max " + shift);
        assertEquals(0.0, lastCheck().getMaxRegret(), 0.0, "the errors did not move");
        searchRound(1, 1.0, FakeStats.QIG_BEST, "bright");
        DriftEvent e = drifts.readValue();
        assertEquals("channel-shift", e.getReason());
        assertEquals(0.07, e.getThreshold(), 0.0);
        assertEquals(shift, e.getGroups().stream().mapToDouble(GroupDrift::getMuShift).max().orElseThrow(), 1e-12);
        e.getGroups().forEach(g -> assertTrue(g.getMuShift() > 0.07, g.getLayer() + "." + g.getGroup()));
        CalibrationPlan second = plans.readValue();
        assertEquals(2, second.getVersion());
        assertTrue(!first.getGroups().equals(second.getGroups()), "the new plan has the shifted mu");
        searchRound(2, 1.0, FakeStats.QIG_BEST, "bright");
        assertEquals(4, readConfigs().size(), "re-quantized under the new plan");
        searchRound(2, 1.0, FakeStats.QIG_BEST, "bright");
        assertEquals(0.0, lastCheck().getMaxMuShift(), 0.0, "the new plan follows the shifted data");
        assertTrue(drifts.isEmpty());
    }

    @Test
    void aShiftOfTheVisionTokensAloneConfirmsADriftThatTheChannelMeansMiss() {
        start(Map.of());
        java.util.function.BiConsumer<Long, Double> round = (plan, growth) -> {
            this.round++;
            for (int i = 1; i <= SAMPLES; i++) {
                CalibrationSums sums = plan == 0 ? FakeStats.statisticsSums(i, 0)
                        : FakeStats.searchSums(i, 0, FakeStats.AWQ_BEST, FakeStats.MBQ_BEST, FakeStats.QIG_BEST);
                stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("r" + this.round + "-s" + i,
                        withVision(sums, growth), plan, "clean"));
            }
        };
        round.accept(0L, 0.0);
        CalibrationPlan first = plans.readValue();
        assertEquals(1, first.getVisionGroups().size(), "the plan keeps the vision tokens' channel means");
        round.accept(1L, 0.0);
        readConfigs();
        assertEquals(0.0, lastCheck().getVisionShift(), 0.0, "the same images");
        round.accept(1L, 1.0); // the vision tokens' even channels doubled; every group's statistics unchanged
        DriftCheck check = lastCheck();
        assertEquals(0.0, check.getMaxMuShift(), 0.0, "the channel means of all tokens did not move");
        assertTrue(check.getVisionShift() > 0.06, "vision shift " + check.getVisionShift());
        round.accept(1L, 1.0);
        DriftEvent e = drifts.readValue();
        assertEquals("vision-shift", e.getReason());
        assertEquals(0.06, e.getThreshold(), 0.0);
        assertEquals(0.06, e.getVisionShiftThreshold(), 0.0);
        assertEquals(check.getVisionShift(), e.getVisionShift(), 1e-12);
        CalibrationPlan second = plans.readValue();
        assertEquals(2, second.getVersion());
        round.accept(2L, 1.0);
        round.accept(2L, 1.0);
        assertEquals(0.0, lastCheck().getVisionShift(), 0.0, "the new plan follows the new images");
        assertTrue(drifts.isEmpty());
    }

    /** The sums with vision-token statistics at the watched site: half its tokens, even channels grown by {@code growth}. */
    private static CalibrationSums withVision(CalibrationSums sums, double growth) {
        dev.qig.quant.GroupKey site = dev.qig.core.engine.PartialSumsEngine.VISION_SITES.get(0);
        dev.qig.quant.GroupStatistics all = sums.statistics().get(site);
        double[] abs = new double[all.channels()];
        for (int c = 0; c < abs.length; c++) {
            abs[c] = all.absSum()[c].doubleValue() / 2 * (c % 2 == 0 ? 1 + growth : 1);
        }
        dev.qig.quant.GroupStatistics vision = dev.qig.quant.GroupStatistics.of(abs, all.tokens() / 2, 0, 0, 0, 0);
        return new CalibrationSums(sums.statistics(), sums.errors(), Map.of(), Map.of(site, vision), sums.samples());
    }

    @Test
    void everyRoundEmitsConfigsEveryRoundAndStillReportsDrift() {
        start(Map.of(AggregatorConfig.REQUANTIZE_POLICY, "every-round", AggregatorConfig.DRIFT_CONSECUTIVE_ROUNDS, 1));
        statisticsRound();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        assertEquals(4, readConfigs().size());
        assertNull(lastCheck().getMaxRegret(), "no config was in force yet");
        searchRound(2, 0, FakeStats.QIG_BEST, "clean");
        assertEquals(4, readConfigs().size());
        assertTrue(drifts.isEmpty());
        searchRound(3, 0, JUMPED_QIG_BEST, "night");
        assertEquals(4, readConfigs().size());
        DriftEvent e = drifts.readValue();
        assertEquals("regret", e.getReason());
        assertEquals(4, e.getRound());
        assertEquals(4L, e.getNewPlanVersion(), "the plan that every-round publishes anyway");
        List<Long> versions = new ArrayList<>();
        plans.readValuesToList().forEach(p -> versions.add(p.getVersion()));
        assertEquals(List.of(1L, 2L, 3L, 4L), versions, "one plan per round, none extra for the drift");
        searchRound(4, 0, JUMPED_QIG_BEST, "night");
        assertTrue(drifts.isEmpty(), "the previous round's configs already follow the jump");
    }

    @Test
    void aPromotedConfigOfTheCurrentPlanIsWhatTheRegretMeasures() {
        start(Map.of());
        statisticsRound();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        QuantConfig qig = readConfigs().get("qig");
        // The evaluator promoted a QIG config of plan 1 with alpha 0 everywhere (plain RTN scales).
        List<GroupChoice> rtnLike = new ArrayList<>();
        qig.getGroups().forEach(g -> rtnLike.add(GroupChoice.newBuilder(g).setAlpha(0.0).build()));
        QuantConfig promoted = QuantConfig.newBuilder(qig).setGroups(rtnLike).build();
        active.pipeInput(FakeStats.MODEL + "/w3a16", ActiveConfig.newBuilder().setModel(FakeStats.MODEL)
                .setScheme("w3a16").setConfig(promoted).setEvaluations(List.of()).setDecision("test")
                .setPromotedAt(START).build());
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        // The bowl at alpha 0 against its minimum at 11: 1 + 0.01 * 121.
        assertEquals(1.21, lastCheck().getMaxRegret(), 1e-3);
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        assertNotNull(drifts.readValue(), "the promoted config, not the last emitted one, drifted");
    }

    @Test
    void theCountOfRoundsOverSurvivesARestartFromTheChangelog() {
        start(Map.of());
        statisticsRound();
        searchRound(1, 0, FakeStats.QIG_BEST, "clean");
        searchRound(1, 0, JUMPED_QIG_BEST, "night");
        assertEquals(1, roundState().getRoundsOverDriftThreshold());
        // Restore a new instance's stores from the changelogs, as Kafka Streams does after losing local state.
        Map<String, List<TestRecord<String, byte[]>>> changelogs = new HashMap<>();
        for (String store : List.of(RoundProcessor.ROUNDS_STORE, RoundProcessor.CONFIGS_STORE)) {
            changelogs.put(store, driver.createOutputTopic(changelog(store), new StringDeserializer(),
                    new ByteArrayDeserializer()).readRecordsToList());
        }
        driver.close();
        driver = newDriver();
        KeyValueStore<String, RoundState> rounds = driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
        AvroDeserializer<RoundState> roundSerde = new AvroDeserializer<>(registry, RoundState.class);
        changelogs.get(RoundProcessor.ROUNDS_STORE).forEach(r -> rounds.put(r.key(),
                roundSerde.deserialize(changelog(RoundProcessor.ROUNDS_STORE), r.value())));
        KeyValueStore<String, QuantConfig> configStore = driver.getKeyValueStore(RoundProcessor.CONFIGS_STORE);
        AvroDeserializer<QuantConfig> configSerde = new AvroDeserializer<>(registry, QuantConfig.class);
        changelogs.get(RoundProcessor.CONFIGS_STORE).forEach(r -> configStore.put(r.key(),
                configSerde.deserialize(changelog(RoundProcessor.CONFIGS_STORE), r.value())));
        assertEquals(1, roundState().getRoundsOverDriftThreshold(), "restored");

        searchRound(1, 0, JUMPED_QIG_BEST, "night");
        assertEquals(4, drifts.readValue().getRound(), "the round after the restart is the second in a row");
    }

    private String changelog(String store) {
        return config.getString(AggregatorConfig.APPLICATION_ID) + "-" + store + "-changelog";
    }
}
