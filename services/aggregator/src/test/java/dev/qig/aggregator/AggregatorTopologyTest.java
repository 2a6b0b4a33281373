package dev.qig.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.quant.AlphaGrid;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.GroupKey;
import dev.qig.quant.GroupStatistics;
import dev.qig.quant.Method;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PlanGroup;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundLayerSums;
import dev.qig.schemas.internal.RoundState;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The aggregator's topology on Kafka Streams' TopologyTestDriver, with FAKE partial sums (see {@link FakeStats}). */
class AggregatorTopologyTest {

    private static final Instant START = Instant.parse("2026-11-29T12:00:00Z");

    @TempDir
    Path stateDir;

    private String scope;
    private SchemaRegistryClient registry;
    private AggregatorConfig config;
    private TopologyTestDriver driver;
    private TestInputTopic<String, LayerStats> stats;
    private TestOutputTopic<String, CalibrationPlan> plans;
    private TestOutputTopic<String, QuantConfig> configs;
    private TestOutputTopic<byte[], byte[]> dlq;

    @BeforeEach
    void start() {
        start(Map.of());
    }

    private void start(Map<String, Object> overrides) {
        scope = "ttd-" + UUID.randomUUID();
        registry = MockSchemaRegistry.scope(scope);
        Map<String, Object> props = new HashMap<>();
        props.put(AggregatorConfig.BOOTSTRAP_SERVERS, "unused:9092");
        props.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AggregatorConfig.MODELS, FakeStats.MODEL);
        props.put(AggregatorConfig.ROUND_SAMPLES, 3);
        props.put(AggregatorConfig.ROUND_MAX_DURATION_MS, 60_000L);
        props.put(AggregatorConfig.INSTANCE_ID, "ttd");
        props.put(AggregatorConfig.HTTP_PORT, -1);
        // These tests are about rounds and plans one round at a time (drift: AggregatorDriftTest).
        props.put(AggregatorConfig.REQUANTIZE_POLICY, "every-round");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.putAll(overrides);
        config = new AggregatorConfig(props);
        driver = newDriver();
    }

    private TopologyTestDriver newDriver() {
        TopologyTestDriver d = new TopologyTestDriver(AggregatorTopology.build(config, registry),
                Aggregator.streamsProperties(config), START);
        String statsTopic = config.topic(Topics.Topic.LAYER_STATS);
        stats = d.createInputTopic(statsTopic, new StringSerializer(), new AvroSerializer<LayerStats>(registry));
        plans = d.createOutputTopic(config.topic(Topics.Topic.PLANS), new StringDeserializer(),
                new AvroDeserializer<>(registry, CalibrationPlan.class));
        configs = d.createOutputTopic(config.topic(Topics.Topic.CONFIGS), new StringDeserializer(),
                new AvroDeserializer<>(registry, QuantConfig.class));
        dlq = d.createOutputTopic(config.topic(Topics.Topic.DLQ), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        return d;
    }

    @AfterEach
    void stop() {
        driver.close();
        MockSchemaRegistry.drop(scope);
    }

    private void send(String sampleId, long seed, long planVersion) {
        stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record(sampleId, seed, planVersion));
    }

    @Test
    void aStatisticsRoundSumsExactlyAndPublishesThePlan() {
        send("s1", 1, 0);
        send("s2", 2, 0);
        assertTrue(plans.isEmpty(), "two of three samples: the round is open");
        send("s3", 3, 0);
        CalibrationPlan plan = plans.readValue();
        assertEquals(1, plan.getVersion());
        assertEquals(3, plan.getSamples());
        assertTrue(configs.isEmpty(), "a statistics round has nothing to search");
        // mu = sum |x| / tokens, computed here independently in decimal.
        for (PlanGroup g : plan.getGroups()) {
            GroupKey k = Records.groupKey(g.getLayer(), g.getGroup());
            BigDecimal[] abs = new BigDecimal[g.getMu().size()];
            long tokens = 0;
            for (long seed = 1; seed <= 3; seed++) {
                GroupStatistics s = FakeStats.sums(seed, false).statistics().get(k);
                for (int c = 0; c < abs.length; c++) {
                    BigDecimal v = new BigDecimal(s.absSum()[c].doubleValue());
                    abs[c] = abs[c] == null ? v : abs[c].add(v);
                }
                tokens += s.tokens();
            }
            for (int c = 0; c < abs.length; c++) {
                float expected = (float) abs[c].doubleValue() / tokens == 0 ? 0
                        : (float) (abs[c].round(MathContext.DECIMAL128).doubleValue() / tokens);
                assertEquals(expected, g.getMu().get(c), 0f, k + " mu[" + c + "]");
            }
        }
        RoundState state = roundState();
        assertEquals(2, state.getRound());
        assertEquals(1, state.getPlanVersion());
        assertEquals(0, state.getSamples());
    }

    @Test
    void aSearchRoundTakesEveryMethodsArgminAndBuildsScalesFromThePlan() {
        for (int i = 1; i <= 3; i++) {
            send("s" + i, i, 0);
        }
        CalibrationPlan plan = plans.readValue();
        for (int i = 1; i <= 3; i++) {
            send("s" + i, 10 + i, 1);
        }
        Map<String, QuantConfig> byMethod = new HashMap<>();
        for (TestRecord<String, QuantConfig> r : configs.readRecordsToList()) {
            assertEquals(FakeStats.KEY.configKey(dev.qig.quant.Method.parse(r.value().getMethod())), r.key());
            byMethod.put(r.value().getMethod(), r.value());
        }
        assertEquals(List.of("awq", "mbq", "qig", "rtn"), byMethod.keySet().stream().sorted().toList());
        assertTrue(byMethod.get("rtn").getGroups().isEmpty(), "RTN has no scales");
        Map<String, Integer> best = Map.of("awq", FakeStats.AWQ_BEST, "mbq", FakeStats.MBQ_BEST, "qig", FakeStats.QIG_BEST);
        best.forEach((method, index) -> {
            QuantConfig c = byMethod.get(method);
            assertEquals(2, c.getRound());
            assertEquals(1, c.getPlanVersion());
            assertEquals(3, c.getSamples());
            assertEquals("count", c.getProvenance().get("closedBy"));
            assertEquals(6, c.getGroups().size());
            for (GroupChoice g : c.getGroups()) {
                assertEquals(AlphaGrid.alpha(index), g.getAlpha(), 0.0, method + " " + g.getLayer() + "." + g.getGroup());
                PlanGroup p = plan.getGroups().stream().filter(x -> x.getLayer() == g.getLayer()
                        && x.getGroup().equals(g.getGroup())).findFirst().orElseThrow();
                assertArrayEquals(AlphaGrid.scales(Records.primitiveFloats(p.getMu()), g.getAlpha()),
                        Records.primitiveFloats(g.getScales()), 0f, "scales from the plan's mu");
            }
        });
        assertEquals(2, plans.readValue().getVersion(), "the search round publishes the next plan");
    }

    @Test
    void withoutPlanRefreshSearchRoundsKeepThePlanAndLateRecordsJoinTheNextRound() {
        stop();
        start(Map.of(AggregatorConfig.PLAN_REFRESH_ROUNDS, 0));
        for (int i = 1; i <= 3; i++) {
            send("s" + i, i, 0);
        }
        assertEquals(1, plans.readValue().getVersion());
        for (int i = 1; i <= 4; i++) {
            send("s" + i, 10 + i, 1); // the fourth is one more than the round takes
        }
        assertEquals(4, configs.readValuesToList().size());
        assertTrue(plans.isEmpty(), "no new plan");
        send("s2", 12, 1); // a redelivery of a sample summed in the previous round of the same plan
        assertTrue(dlq.isEmpty(), "late records of the kept plan are no dead letters");
        RoundState state = roundState();
        assertEquals(3, state.getRound());
        assertEquals(1, state.getPlanVersion());
        assertEquals(1, state.getSamples(), "the late record opened round 3; the redelivery did not count");
        assertEquals(1, state.getDuplicates());
    }

    @Test
    void aCalibratingRoundOfGptqMethodsEmitsOneJobPerMethodWithItsOwnSamplesInOrder() {
        stop();
        start(Map.of(AggregatorConfig.PLAN_REFRESH_ROUNDS, 0));
        List<String> methods = new ArrayList<>(FakeStats.SETTINGS.getMethods());
        methods.addAll(List.of("gptq", "qig-gptq"));
        dev.qig.schemas.EngineSettings settings = dev.qig.schemas.EngineSettings.newBuilder(FakeStats.SETTINGS)
                .setMethods(methods).setGptqDamp(0.05).build();
        dev.qig.kafka.records.RoundKey key = dev.qig.kafka.records.RoundKey.of(FakeStats.MODEL, QuantScheme.W3A16, settings);
        assertTrue(key.settings().endsWith("+gptq+qig-gptq-damp0.05"), key.settings());
        TestOutputTopic<String, dev.qig.schemas.GptqJob> jobs = driver.createOutputTopic(
                config.topic(Topics.Topic.GPTQ_JOBS), new StringDeserializer(),
                new AvroDeserializer<>(registry, dev.qig.schemas.GptqJob.class));
        java.util.function.BiConsumer<String, Long> send = (id, plan) -> stats.pipeInput(key.toString(), Records.layerStats(
                id, key, settings, plan, FakeStats.sums(id.hashCode(), plan > 0), "clean", START, "fake"));
        List.of("s1", "s2", "s3").forEach(id -> send.accept(id, 0L));
        assertTrue(jobs.isEmpty(), "a statistics round calibrates nothing");
        // Round 2 under plan 1, in an order that is not sorted, with a redelivery.
        List.of("t3", "t1", "t1", "t2").forEach(id -> send.accept(id, 1L));
        Map<String, QuantConfig> configsByMethod = new HashMap<>();
        configs.readRecordsToList().forEach(r -> configsByMethod.put(r.value().getMethod(), r.value()));
        assertEquals(List.of("awq", "mbq", "qig", "rtn"), configsByMethod.keySet().stream().sorted().toList(),
                "configs of the scale searches only: GPTQ's come from its jobs");
        List<TestRecord<String, dev.qig.schemas.GptqJob>> round2 = jobs.readRecordsToList();
        assertEquals(List.of("gptq", "qig-gptq"), round2.stream().map(r -> r.value().getMethod()).toList());
        for (TestRecord<String, dev.qig.schemas.GptqJob> r : round2) {
            dev.qig.schemas.GptqJob job = r.value();
            Method m = Method.parse(job.getMethod());
            assertEquals(key.configKey(m), r.key());
            assertEquals(FakeStats.MODEL + "/w3a16/" + m.id() + "/v2", job.getJobId());
            assertEquals(List.of("t1", "t2", "t3"), job.getSampleIds());
            assertEquals(2, job.getRound());
            assertEquals(1, job.getPlanVersion());
            assertEquals(settings, job.getSettings());
            Map<String, String> rtnProvenance = configsByMethod.get("rtn").getProvenance();
            assertEquals("1", job.getProvenance().get("duplicatesSkipped"));
            job.getProvenance().forEach((k, v) -> assertEquals(rtnProvenance.get(k), v, "the round's provenance: " + k));
            assertEquals(configsByMethod.get("rtn").getCreatedAt(), job.getCreatedAt());
            assertTrue(job.getInputScales().isEmpty(), "w3a16 has no static scales");
            // What the worker makes of it names the job, GPTQ's options and the round.
            QuantConfig made = Records.gptqConfigRecord(job, new dev.qig.quant.QuantConfig.WeightsRef("/w.safetensors", "ab"));
            assertEquals(job.getJobId(), made.getConfigId());
            assertEquals("0.05", made.getProvenance().get("gptqDamp"));
            assertEquals(3, made.getSamples());
        }
        // Round 3 under the same plan: its job names its own samples, not round 2's (all are in the seen store).
        List.of("u2", "u1", "t2", "u3").forEach(id -> send.accept(id, 1L));
        List<dev.qig.schemas.GptqJob> round3 = jobs.readValuesToList();
        assertEquals(2, round3.size());
        round3.forEach(j -> assertEquals(List.of("u1", "u2", "u3"), j.getSampleIds(), j.getMethod()));
        round3.forEach(j -> assertEquals(3, j.getRound()));
        assertTrue(dlq.isEmpty());
    }

    @Test
    void theSeenSamplesStoreKeepsDedupRoundsOfIdsHoweverLongAPlanLasts() {
        stop();
        start(Map.of(AggregatorConfig.PLAN_REFRESH_ROUNDS, 0)); // one plan for every round, as under on-drift
        // The same statistics every round (statistics and errors drawn apart): no drift replaces the plan.
        java.util.function.BiConsumer<String, Integer> search = (id, seed) -> stats.pipeInput(FakeStats.KEY.toString(),
                FakeStats.record(id, FakeStats.searchSums(seed, 0, FakeStats.AWQ_BEST, FakeStats.MBQ_BEST, FakeStats.QIG_BEST),
                        1, "clean"));
        for (int i = 1; i <= 3; i++) {
            stats.pipeInput(FakeStats.KEY.toString(), FakeStats.record("s" + i, FakeStats.statisticsSums(i, 0), 0, "clean"));
        }
        for (int round = 2; round <= 6; round++) {
            for (int i = 1; i <= 3; i++) {
                search.accept("r" + round + "-" + i, i);
            }
        }
        KeyValueStore<String, Long> seen = driver.getKeyValueStore(RoundProcessor.SEEN_STORE);
        List<String> kept = new ArrayList<>();
        try (var it = seen.all()) {
            it.forEachRemaining(e -> kept.add(e.key.substring(e.key.lastIndexOf('|') + 1)));
        }
        assertEquals(List.of("r6-1", "r6-2", "r6-3"), kept.stream().sorted().toList(),
                "dedup.rounds (2): the closed round 6 and the open round 7, not the five rounds of the plan");
        search.accept("r6-2", 2); // a redelivery of the round just closed: still a duplicate
        search.accept("r3-1", 1); // an id of round 3, forgotten: counts again
        RoundState state = roundState();
        assertEquals(7, state.getRound());
        assertEquals(1, state.getDuplicates());
        assertEquals(1, state.getSamples());
        assertEquals(1, state.getPlanVersion(), "one plan throughout");
        assertTrue(dlq.isEmpty());
    }

    @Test
    void aRedeliveredSampleCountsOnce() {
        send("s1", 1, 0);
        send("s1", 1, 0);
        send("s2", 2, 0);
        assertTrue(plans.isEmpty(), "two distinct samples of three");
        assertEquals(2, roundState().getSamples());
        assertEquals(1, roundState().getDuplicates());
        send("s3", 3, 0);
        assertEquals(3, plans.readValue().getSamples());
    }

    @Test
    void aRoundClosesAfterItsTimeLimitWithWhatItHas() {
        send("s1", 1, 0);
        driver.advanceWallClockTime(Duration.ofSeconds(30));
        assertTrue(plans.isEmpty(), "within the limit");
        driver.advanceWallClockTime(Duration.ofSeconds(31));
        CalibrationPlan plan = plans.readValue();
        assertEquals(1, plan.getSamples());
        send("s2", 2, 1);
        driver.advanceWallClockTime(Duration.ofSeconds(61));
        List<QuantConfig> emitted = configs.readValuesToList();
        assertEquals(4, emitted.size());
        emitted.forEach(c -> assertEquals("time", c.getProvenance().get("closedBy")));
        // An empty round never closes.
        driver.advanceWallClockTime(Duration.ofMinutes(10));
        assertTrue(configs.isEmpty());
    }

    @Test
    void recordsThatDoNotFitTheirRoundGoToTheDeadLetterTopicAndTheStreamGoesOn() {
        LayerStats good = FakeStats.record("g1", 1, 0);
        // Unknown model.
        LayerStats otherModel = LayerStats.newBuilder(good).setModel("sha256-00000000000000bb").build();
        stats.pipeInput(FakeStats.KEY.toString().replace(FakeStats.MODEL, "sha256-00000000000000bb"), otherModel);
        // Key does not match the value.
        stats.pipeInput("sha256-00000000000000aa/w4a8/" + FakeStats.KEY.settings(), FakeStats.record("g2", 2, 0));
        // A plan the aggregator never published.
        send("g3", 3, 5);
        // Search sums while the round is a statistics round.
        stats.pipeInput(FakeStats.KEY.toString(), LayerStats.newBuilder(FakeStats.record("g4", 4, 1)).setPlanVersion(0).build());
        // Then good records: the stream is alive.
        send("g1", 1, 0);
        send("g5", 5, 0);
        // A channel count that differs from the round's.
        CalibrationSums odd = FakeStats.sums(6, false);
        Map<GroupKey, GroupStatistics> wrong = new java.util.TreeMap<>(odd.statistics());
        GroupKey first = wrong.keySet().iterator().next();
        wrong.put(first, GroupStatistics.of(new double[3], 1, 0, 0, 0, 0));
        stats.pipeInput(FakeStats.KEY.toString(), Records.layerStats("g6", FakeStats.KEY, FakeStats.SETTINGS, 0,
                CalibrationSums.ofSample(wrong, Map.of()), "clean", START, "fake"));
        // Input ranges in a round of a scheme that is not static (w3a16): only static schemes calibrate from them.
        CalibrationSums ranged = FakeStats.sums(9, false).plus(new CalibrationSums(Map.of(), Map.of(),
                Map.of(first, dev.qig.quant.InputRange.of(new float[] {1f, 2f, 3f, 4f})), 0));
        stats.pipeInput(FakeStats.KEY.toString(), Records.layerStats("g9", FakeStats.KEY, FakeStats.SETTINGS, 0, ranged,
                "clean", START, "fake"));
        send("g7", 7, 0);
        assertEquals(1, plans.readValuesToList().size(), "the round of three good samples closed");
        // A record of the old plan after the round moved on.
        send("g8", 8, 0);

        List<TestRecord<byte[], byte[]>> letters = dlq.readRecordsToList();
        List<String> reasons = new ArrayList<>();
        for (TestRecord<byte[], byte[]> r : letters) {
            reasons.add(DeadLetters.header(r.headers(), DeadLetters.REASON));
            assertEquals("aggregator", DeadLetters.header(r.headers(), DeadLetters.STAGE));
            assertEquals(config.topic(Topics.Topic.LAYER_STATS), DeadLetters.header(r.headers(), DeadLetters.TOPIC));
            assertNotNull(DeadLetters.header(r.headers(), DeadLetters.EXCEPTION));
            assertNotNull(r.value(), "the original bytes are kept");
        }
        assertEquals(List.of("unknown_model", "mismatched_round", "unknown_plan", "malformed_stats", "malformed_stats",
                "malformed_stats", "stale_plan"), reasons);
        // The dead letter carries the record's original bytes.
        byte[] original = new AvroSerializer<LayerStats>(registry).serialize(config.topic(Topics.Topic.LAYER_STATS),
                FakeStats.record("g3", 3, 5));
        assertArrayEquals(original, letters.get(2).value());
    }

    /**
     * A static scheme's round calibrates its activation scales from every sample's input ranges: a
     * record without them is dead-lettered; records with them are summed, and the round's configs
     * carry one input scale per site, from the merged maximum.
     */
    @Test
    void aStaticSchemesRoundNeedsEverySamplesRangesAndTurnsThemIntoInputScales() {
        dev.qig.kafka.records.RoundKey key = dev.qig.kafka.records.RoundKey.of(FakeStats.MODEL, QuantScheme.W8A8_STATIC,
                FakeStats.SETTINGS);
        java.util.function.BiFunction<String, Float, LayerStats> withRanges = (id, top) -> {
            Map<GroupKey, dev.qig.quant.InputRange> ranges = new TreeMap<>();
            FakeStats.groups().forEach((k, channels) -> {
                float[] m = new float[channels];
                java.util.Arrays.fill(m, 1f);
                m[0] = top;
                ranges.put(k, dev.qig.quant.InputRange.of(m));
            });
            CalibrationSums sums = FakeStats.sums(id.hashCode(), false).plus(new CalibrationSums(Map.of(), Map.of(), ranges, 0));
            return Records.layerStats(id, key, FakeStats.SETTINGS, 0, sums, "clean", START, "fake");
        };
        stats.pipeInput(key.toString(), Records.layerStats("bare", key, FakeStats.SETTINGS, 0, FakeStats.sums(1, false),
                "clean", START, "fake"));
        stats.pipeInput(key.toString(), withRanges.apply("s1", 2f));
        stats.pipeInput(key.toString(), withRanges.apply("s2", 5f));
        stats.pipeInput(key.toString(), withRanges.apply("s3", 3f));
        List<String> reasons = new ArrayList<>();
        dlq.readRecordsToList().forEach(r -> reasons.add(DeadLetters.header(r.headers(), DeadLetters.REASON)));
        assertEquals(List.of("malformed_stats"), reasons, "the record without ranges, only");
        assertEquals(1, plans.readValuesToList().size(), "the three samples with ranges closed the statistics round");
        // A search round under plan 1: its configs' input scales come from the round's merged ranges.
        for (String id : List.of("t1", "t2", "t3")) {
            LayerStats statistics = withRanges.apply(id, id.equals("t2") ? 6.35f : 1f);
            CalibrationSums search = Records.sums(statistics).plus(new CalibrationSums(Map.of(),
                    FakeStats.sums(id.hashCode(), true).errors(), Map.of(), 0));
            stats.pipeInput(key.toString(), Records.layerStats(id, key, FakeStats.SETTINGS, 1, search, "clean", START, "fake"));
        }
        List<QuantConfig> out = configs.readValuesToList();
        assertFalse(out.isEmpty(), "the search round published configs");
        for (QuantConfig c : out) {
            dev.qig.quant.QuantConfig config = Records.config(c);
            assertEquals(FakeStats.groups().keySet(), config.inputScales().keySet(), c.getMethod());
            if (config.method() == Method.RTN) {
                // No scales: the range is the largest maximum, 6.35, over 127.
                config.inputScales().values().forEach(v -> assertEquals(6.35f / 127, v, 0f));
            }
        }
    }

    @Test
    void aRestartFromTheChangelogContinuesTheRoundAsIfNothingHappened() {
        // Uninterrupted: three samples in one go.
        for (int i = 1; i <= 3; i++) {
            send("s" + i, i, 0);
        }
        CalibrationPlan uninterrupted = plans.readValue();
        driver.close();

        // Interrupted after two samples; a new instance restores its stores from the changelogs (as
        // Kafka Streams does on restart: every changelog record put back into its store) and goes on.
        driver = newDriver();
        send("s1", 1, 0);
        send("s2", 2, 0);
        Map<String, List<TestRecord<String, byte[]>>> changelogs = new HashMap<>();
        for (String store : List.of(RoundProcessor.ROUNDS_STORE, RoundProcessor.LAYER_SUMS_STORE, RoundProcessor.SEEN_STORE,
                RoundProcessor.CONFIGS_STORE)) {
            changelogs.put(store, driver.createOutputTopic(changelog(store), new StringDeserializer(),
                    new ByteArrayDeserializer()).readRecordsToList());
        }
        RoundState live = roundState();
        assertEquals(live, new AvroDeserializer<>(registry, RoundState.class).deserialize(changelog(RoundProcessor.ROUNDS_STORE),
                changelogs.get(RoundProcessor.ROUNDS_STORE).get(changelogs.get(RoundProcessor.ROUNDS_STORE).size() - 1).value()),
                "the changelog holds the live state");
        driver.close();

        driver = newDriver();
        KeyValueStore<String, RoundState> rounds = driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
        KeyValueStore<String, Long> seen = driver.getKeyValueStore(RoundProcessor.SEEN_STORE);
        AvroDeserializer<RoundState> roundSerde = new AvroDeserializer<>(registry, RoundState.class);
        for (TestRecord<String, byte[]> r : changelogs.get(RoundProcessor.ROUNDS_STORE)) {
            rounds.put(r.key(), roundSerde.deserialize(changelog(RoundProcessor.ROUNDS_STORE), r.value()));
        }
        KeyValueStore<String, RoundLayerSums> layers = driver.getKeyValueStore(RoundProcessor.LAYER_SUMS_STORE);
        AvroDeserializer<RoundLayerSums> layerSerde = new AvroDeserializer<>(registry, RoundLayerSums.class);
        for (TestRecord<String, byte[]> r : changelogs.get(RoundProcessor.LAYER_SUMS_STORE)) {
            layers.put(r.key(), r.value() == null ? null : layerSerde.deserialize(changelog(RoundProcessor.LAYER_SUMS_STORE), r.value()));
        }
        for (TestRecord<String, byte[]> r : changelogs.get(RoundProcessor.SEEN_STORE)) {
            seen.put(r.key(), r.value() == null ? null : java.nio.ByteBuffer.wrap(r.value()).getLong());
        }
        send("s2", 2, 0); // redelivered after the restart: still counted once
        send("s3", 3, 0);
        assertEquals(uninterrupted, plans.readValue(), "same plan as without the restart");
    }

    private String changelog(String store) {
        return config.getString(AggregatorConfig.APPLICATION_ID) + "-" + store + "-changelog";
    }

    private RoundState roundState() {
        KeyValueStore<String, RoundState> store = driver.getKeyValueStore(RoundProcessor.ROUNDS_STORE);
        return store.get(FakeStats.KEY.toString());
    }
}
