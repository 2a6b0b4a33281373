package dev.qig.evaluator;

import dev.qig.core.engine.LayerGroups;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.evaluator.internals.WeightBytes;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.EvalResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The evaluator on a real broker with the shipped model and 2 x 30 held-out questions: a config
 * that changes nothing that matters (W8A8 round-to-nearest) is promoted, configs that destroy
 * accuracy (scales that round all but every 64th input channel to zero) are refused whether or not
 * an active config exists, a config equal to the active one replaces it only when it was calibrated after
 * a drift (and is then judged on the drifted round's domain), and configs that
 * cannot be used go to the dead-letter topic while the next ones are still processed. A second
 * evaluator restores the active config from the topic and compares with it after a restart.
 */
class EvaluatorOnBrokerTest {

    private static final String KEY = "one-partition"; // every config under one key: processed in the order sent

    @Test
    void goodConfigsArePromotedDestroyedOnesRefusedAndBadOnesDeadLettered() throws Exception {
        String scope = "evaluator-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Map<GroupKey, Integer> channels = new TreeMap<>();
        String modelId;
        long w8Bytes;
        long fpBytes;
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.Loaded shipped = Checkpoint.load(Checkpoint.SHIPPED, m);
            modelId = shipped.modelId();
            VisionLanguageModel model = shipped.model();
            for (int l = 0; l < model.layers().size(); l++) {
                DecoderLayer layer = model.layers().get(l);
                for (EqualizationGroup g : EqualizationGroup.values()) {
                    if (LayerGroups.appliesTo(g, layer)) {
                        channels.put(new GroupKey(l, g), LayerGroups.channels(g, layer));
                    }
                }
            }
            w8Bytes = WeightBytes.decoder(model, QuantScheme.W8A8);
            fpBytes = WeightBytes.decoderFullPrecision(model);
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            EvaluatorConfig config = new EvaluatorConfig(settings(kafka, scope));
            String configsTopic = config.topic(Topics.Topic.CONFIGS);
            AvroSerializer<dev.qig.schemas.QuantConfig> serializer = new AvroSerializer<>(registry);

            QuantConfig rtnV1 = new QuantConfig(modelId, QuantScheme.W8A8, Method.RTN, 1, 1, Map.of(), Map.of());
            QuantConfig destroyedV2 = destroyed(modelId, QuantScheme.W8A8, 2, channels);
            QuantConfig sameV2 = new QuantConfig(modelId, QuantScheme.W8A8, Method.MBQ, 2, 2, Map.of(), Map.of());
            // Calibrated under a plan a drift built, on cluttered traffic (the aggregator's provenance).
            QuantConfig rtnV3 = new QuantConfig(modelId, QuantScheme.W8A8, Method.RTN, 3, 3, Map.of(),
                    Map.of("planReason", "drift", "domains", "clean=0,cluttered=16"));
            // Of the same drifted round as rtnV3, which is active by then: a tie no longer goes to it.
            QuantConfig mbqV3 = new QuantConfig(modelId, QuantScheme.W8A8, Method.MBQ, 3, 3, Map.of(),
                    Map.of("planReason", "drift", "domains", "clean=0,cluttered=16"));
            QuantConfig destroyedW2 = destroyed(modelId, QuantScheme.W2A16, 1, channels);
            GroupKey first = channels.keySet().iterator().next();
            QuantConfig wrongShape = new QuantConfig(modelId, QuantScheme.W8A8, Method.AWQ, 9, 9,
                    Map.of(first, new QuantConfig.GroupChoice(0.5, new float[] {1f, 1f, 1f}, 0, 0)), Map.of());
            QuantConfig otherModel = new QuantConfig("sha256-0000000000000000", QuantScheme.W8A8, Method.RTN, 1, 1,
                    Map.of(), Map.of());

            List<byte[]> sequence = new ArrayList<>();
            sequence.add("not a config".getBytes());                         // dead letter: not_wire_format
            sequence.add(serializer.serialize(configsTopic, record(rtnV1)));       // promoted: no active, = fp32
            sequence.add(serializer.serialize(configsTopic, record(otherModel)));  // dead letter: unknown_model
            sequence.add(serializer.serialize(configsTopic, record(wrongShape)));  // dead letter: malformed_config
            sequence.add(serializer.serialize(configsTopic, record(destroyedV2))); // refused against the active v1
            sequence.add(serializer.serialize(configsTopic, record(destroyedW2))); // refused against fp32 (no active w2a16)
            sequence.add(serializer.serialize(configsTopic, record(sameV2)));      // refused: equal, not shown better
            sequence.add(serializer.serialize(configsTopic, record(rtnV3)));       // promoted: equal, after a drift
            sequence.add(serializer.serialize(configsTopic, record(mbqV3)));       // refused: equal, its round's rtn is active
            try (Evaluator evaluator = new Evaluator(config, registry)) {
                evaluator.start();
                // Before any config: every method's promotion counter is there at 0, so that the first
                // promotion is an increase a dashboard sees (a series that first appears at 1 is not).
                var promotions = evaluator.metrics().registry().scrape().stream()
                        .filter(m -> m.getMetadata().getPrometheusName().equals("qig_promotions"))
                        .flatMap(m -> m.getDataPoints().stream()).toList();
                assertEquals(dev.qig.quant.QuantScheme.values().length * dev.qig.quant.Method.values().length,
                        promotions.size(), "every scheme and method of the served model");
                promotions.forEach(p -> assertEquals(0.0, ((io.prometheus.metrics.model.snapshots.CounterSnapshot
                        .CounterDataPointSnapshot) p).getValue(), 0.0));
                send(kafka, configsTopic, sequence);

                List<EvalResult> results = read(kafka, config.topic(Topics.Topic.EVAL_RESULTS), 2 + 6 * 2,
                        new AvroDeserializer<>(registry, EvalResult.class));
                List<ActiveConfig> promoted = read(kafka, config.topic(Topics.Topic.ACTIVE_CONFIGS), 2,
                        new AvroDeserializer<>(registry, ActiveConfig.class));
                List<ConsumerRecord<byte[], byte[]>> letters = readRaw(kafka, config.topic(Topics.Topic.DLQ), 3);

                Map<String, List<EvalResult>> byConfig = results.stream().collect(Collectors.groupingBy(EvalResult::getConfigId));
                List<EvalResult> fp = byConfig.get(modelId + "/fp32");
                List<EvalResult> v1 = byConfig.get(rtnV1.id());
                List<EvalResult> v2 = byConfig.get(destroyedV2.id());
                List<EvalResult> w2 = byConfig.get(destroyedW2.id());
                List<EvalResult> v3 = byConfig.get(rtnV3.id());
                List<EvalResult> same = byConfig.get(sameV2.id());
                for (EvalResult r : byConfig.get(mbqV3.id())) {
                    assertEquals(rtnV3.id(), r.getVsActive().getAgainst());
                    assertTrue(r.getDecision().startsWith("refused") && r.getDecision().contains("must be shown better")
                            && r.getDecision().contains("judged on the questions of cluttered"), r.getDecision());
                }
                for (List<EvalResult> r : List.of(fp, v1, v2, w2, v3, same)) {
                    assertNotNull(r, "results of every evaluated config: " + byConfig.keySet());
                    assertEquals(List.of("clean", "cluttered"), r.stream().map(EvalResult::getDomain).toList());
                    for (EvalResult e : r) {
                        assertEquals(30, e.getQuestions());
                        assertEquals("cpu()", e.getDevice());
                        assertTrue(e.getTokensPerSecond() > 0 && Double.isFinite(e.getTokensPerSecond()));
                        assertTrue(e.getAnswerLogLikelihood() <= 0, e.toString());
                    }
                }
                for (int d = 0; d < 2; d++) {
                    EvalResult full = fp.get(d);
                    assertTrue(full.getAccuracy() > 0.5, "the shipped model answers most questions: " + full);
                    assertEquals(fpBytes, full.getWeightBytes());
                    assertEquals(0, full.getKlToFullPrecision(), 1e-6);
                    assertNull(full.getVsFullPrecision());

                    EvalResult good = v1.get(d);
                    assertEquals(w8Bytes, good.getWeightBytes());
                    assertTrue(good.getWeightBytes() < fpBytes / 3, "8 bits and a scale per row against 32 bits");
                    assertTrue(good.getKlToFullPrecision() < 0.01, "W8A8 barely moves the answers: " + good);
                    assertEquals(full.getAccuracy(), good.getAccuracy(), 0.0, "W8A8 RTN answers as full precision: " + good);
                    assertEquals(0, good.getVsFullPrecision().getAccuracyDifference(), 0);
                    assertEquals(1.0, good.getVsFullPrecision().getPValue(), 0);
                    assertNull(good.getVsActive(), "no active config when v1 was evaluated");

                    for (EvalResult bad : List.of(v2.get(d), w2.get(d))) {
                        assertTrue(bad.getAccuracy() < full.getAccuracy() - 0.3, "destroyed: " + bad);
                        assertTrue(bad.getKlToFullPrecision() > 0.5, "destroyed: " + bad);
                        assertTrue(bad.getVsFullPrecision().getUpper() < 0, bad.toString());
                        assertTrue(bad.getVsFullPrecision().getPValue() < 0.01, bad.toString());
                    }
                    assertEquals(rtnV1.id(), v2.get(d).getVsActive().getAgainst());
                    assertNull(w2.get(d).getVsActive(), "no active w2a16 config");
                    assertEquals(rtnV1.id(), v3.get(d).getVsActive().getAgainst());
                    assertEquals(0, v3.get(d).getVsActive().getAccuracyDifference(), 0);
                    String refused = same.get(d).getDecision();
                    assertTrue(refused.startsWith("refused") && refused.contains("must be shown better"), refused);
                    assertTrue(!refused.contains("judged on"), "no drift: judged on every evaluated question: " + refused);
                }

                assertEquals(rtnV1.id(), promoted.get(0).getConfig().getConfigId());
                assertNull(promoted.get(0).getPreviousConfigId());
                assertTrue(promoted.get(0).getDecision().contains("no active config"), promoted.get(0).getDecision());
                assertEquals(v1, promoted.get(0).getEvaluations(), "promoted with the results that justified it");
                assertEquals(rtnV3.id(), promoted.get(1).getConfig().getConfigId());
                assertEquals(rtnV1.id(), promoted.get(1).getPreviousConfigId());
                String decision = promoted.get(1).getDecision();
                for (String word : List.of("promoted", "margin", "confidence", "interval", "p-value", rtnV1.id(),
                        "calibrated after a drift", "on 30 paired questions", "judged on the questions of cluttered")) {
                    assertTrue(decision.contains(word), "decision names " + word + ": " + decision);
                }

                Map<String, byte[]> letterByReason = new TreeMap<>();
                for (ConsumerRecord<byte[], byte[]> r : letters) {
                    assertEquals("evaluator", DeadLetters.header(r.headers(), DeadLetters.STAGE));
                    assertEquals(configsTopic, DeadLetters.header(r.headers(), DeadLetters.TOPIC));
                    letterByReason.put(DeadLetters.header(r.headers(), DeadLetters.REASON), r.value());
                }
                assertEquals(List.of("malformed_config", "not_wire_format", "unknown_model"),
                        List.copyOf(letterByReason.keySet()));
                assertArrayEquals(sequence.get(0), letterByReason.get("not_wire_format"), "original bytes");
                assertArrayEquals(sequence.get(2), letterByReason.get("unknown_model"), "original bytes");
                assertArrayEquals(sequence.get(3), letterByReason.get("malformed_config"), "original bytes");

                assertEquals(9, evaluator.stats().consumed());
                assertEquals(6, evaluator.stats().evaluated());
                assertEquals(2, evaluator.stats().promoted());
                assertEquals(4, evaluator.stats().refused());
                assertEquals(3, evaluator.stats().deadLettered());
            }

            // A restart: the active config (v3) comes back from the topic, is evaluated again for the
            // paired comparison, and a destroyed config is refused against it.
            QuantConfig destroyedV4 = destroyed(modelId, QuantScheme.W8A8, 4, channels);
            try (Evaluator restarted = new Evaluator(new EvaluatorConfig(settings(kafka, scope)), registry)) {
                restarted.start();
                send(kafka, configsTopic, List.of(serializer.serialize(configsTopic, record(destroyedV4))));
                List<EvalResult> results = read(kafka, config.topic(Topics.Topic.EVAL_RESULTS), 2 + 6 * 2 + 2 + 2,
                        new AvroDeserializer<>(registry, EvalResult.class));
                List<EvalResult> v4 = results.stream().filter(r -> r.getConfigId().equals(destroyedV4.id())).toList();
                assertEquals(2, v4.size());
                for (EvalResult r : v4) {
                    assertEquals(rtnV3.id(), r.getVsActive().getAgainst(), "the restored active config");
                    assertTrue(r.getVsActive().getUpper() < 0, r.toString());
                }
                assertEquals(1, restarted.stats().consumed(), "offsets of the first run were committed");
                assertEquals(1, restarted.stats().refused());
                read(kafka, config.topic(Topics.Topic.ACTIVE_CONFIGS), 2, new AvroDeserializer<>(registry, ActiveConfig.class));
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private static Map<String, Object> settings(EmbeddedKafka kafka, String scope) {
        Map<String, Object> props = new HashMap<>();
        props.put(EvaluatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(EvaluatorConfig.METRICS_PORT, -1);
        props.put(EvaluatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(EvaluatorConfig.INSTANCE_ID, "evaluator-test");
        props.put(EvaluatorConfig.EVAL_DOMAINS, "clean,cluttered");
        props.put(EvaluatorConfig.EVAL_QUESTIONS_PER_DOMAIN, 30);
        props.put(EvaluatorConfig.BATCH_SIZE, 30);
        props.put(EvaluatorConfig.DEVICE, "cpu");
        return props;
    }

    /**
     * A config that destroys the model: in every group one input channel of 64 is scaled up 10^4
     * times (and its previous op down), so each row's quantization range is that channel's and every
     * other weight rounds to zero. Exact in full precision, ruinous once quantized.
     */
    private static QuantConfig destroyed(String model, QuantScheme scheme, long version, Map<GroupKey, Integer> channels) {
        Map<GroupKey, QuantConfig.GroupChoice> groups = new TreeMap<>();
        channels.forEach((k, n) -> {
            float[] s = new float[n];
            for (int i = 0; i < n; i++) {
                s[i] = i % 64 == 0 ? 1e4f : 1f;
            }
            groups.put(k, new QuantConfig.GroupChoice(1.0, s, 0, 0));
        });
        return new QuantConfig(model, scheme, Method.AWQ, version, version, groups, Map.of());
    }

    private static dev.qig.schemas.QuantConfig record(QuantConfig c) {
        return Records.configRecord(c, Records.settingsRecord(CalibrationSettings.builder(c.scheme()).build(),
                EnumSet.of(c.method())), 1, 64, Instant.parse("2026-11-29T12:00:00Z"));
    }

    private static void send(EmbeddedKafka kafka, String topic, List<byte[]> values) {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (byte[] v : values) {
                producer.send(new ProducerRecord<>(topic, KEY.getBytes(), v));
            }
        }
    }

    private static <T extends org.apache.avro.specific.SpecificRecord> List<T> read(EmbeddedKafka kafka, String topic,
                                                                                   int n, AvroDeserializer<T> deserializer) {
        return readRaw(kafka, topic, n).stream().map(r -> deserializer.deserialize(r.topic(), r.value())).toList();
    }

    /** Waits for {@code n} records, then checks that no more come; in order within each partition. */
    private static List<ConsumerRecord<byte[], byte[]>> readRaw(EmbeddedKafka kafka, String topic, int n) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "group.id", "read-" + UUID.randomUUID(), "auto.offset.reset", "earliest"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 300_000;
            while (out.size() < n && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            consumer.poll(Duration.ofMillis(500)).forEach(out::add); // nothing beyond the expected
        }
        assertEquals(n, out.size(), "records on " + topic);
        return out;
    }
}
