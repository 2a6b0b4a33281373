package dev.qig.evaluator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.evaluator.EvaluatorConfig;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The evaluation set read from a topic of four partitions on a real broker (eval.source=topic):
 * per evaluated domain, in the configured domain order, the first eval.questions.per.domain samples
 * in sample id order; a redelivered id counts once; samples of other domains, records that are not
 * Avro and samples without an inline image are skipped; prompts, answers and pixels are those sent.
 * A topic with nothing of the evaluated domains is an error.
 */
class EvalSetFromTopicTest {

    private static final int PARTITIONS = 4;
    private static final int PER_DOMAIN = 4;
    /** PNG stores 8 bits per channel: a decoded pixel is the original rounded to the nearest 1/255. */
    private static final double PIXEL_TOLERANCE = 0.5 / 255 + 1e-6;

    @Test
    void readsTheFirstSamplesOfEachEvaluatedDomainInIdOrderAndSkipsTheRest() throws Exception {
        String scope = "evalset-" + UUID.randomUUID();
        AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(MockSchemaRegistry.scope(scope));
        AvroDeserializer<CalibrationSample> deserializer =
                new AvroDeserializer<>(MockSchemaRegistry.scope(scope), CalibrationSample.class);
        SyntheticWorld world = new SyntheticWorld();
        // 12 clean samples (more than PER_DOMAIN), 3 cluttered ones (fewer), 3 lowlight ones (not evaluated).
        List<VqaSample> clean = world.evalSet(Domain.CLEAN).subList(0, 12);
        List<VqaSample> cluttered = world.evalSet(Domain.CLUTTERED).subList(0, 3);
        List<VqaSample> lowlight = world.evalSet(Domain.LOWLIGHT).subList(0, 3);
        Map<String, VqaSample> sent = new HashMap<>();
        for (List<VqaSample> set : List.of(clean, cluttered, lowlight)) {
            set.forEach(s -> sent.put(s.id(), s));
        }
        assertEquals(18, sent.size(), "distinct ids");

        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            String topic = "eval-samples-" + UUID.randomUUID();
            String emptyTopic = "eval-samples-none-" + UUID.randomUUID();
            createTopics(kafka, topic, emptyTopic);

            // Ids in descending order, round robin over the partitions: neither the order sent nor the
            // order read is the id order.
            List<VqaSample> ordered = new ArrayList<>();
            ordered.addAll(lowlight);
            ordered.addAll(cluttered);
            ordered.addAll(clean);
            ordered.sort((a, b) -> b.id().compareTo(a.id()));
            List<byte[]> values = new ArrayList<>();
            for (VqaSample s : ordered) {
                values.add(serializer.serialize(topic, record(s, true)));
            }
            // The first clean id in id order once more (a redelivery), on another partition than the first time.
            String redelivered = clean.stream().map(VqaSample::id).sorted().findFirst().orElseThrow();
            values.add(serializer.serialize(topic, record(sent.get(redelivered), true)));
            values.add("not an Avro record".getBytes(StandardCharsets.UTF_8));
            values.add(new byte[] {0, 0, 0, 0, 1, 42, 42, 42}); // wire format header, garbage body
            // A clean sample without inline image whose id comes before every other: taken if not skipped.
            VqaSample imageless = new VqaSample("a-clean-without-image", Domain.CLEAN, clean.get(0).type(),
                    clean.get(0).image(), clean.get(0).question(), clean.get(0).answer());
            values.add(serializer.serialize(topic, record(imageless, false)));
            send(kafka, topic, values);

            // Cluttered first: the configured order, not the enum's.
            EvaluatorConfig config = new EvaluatorConfig(settings(kafka, scope, topic, "cluttered,clean"));
            List<VqaSample> questions = EvalSet.load(config, deserializer);

            List<String> expected = new ArrayList<>();
            expected.addAll(firstIds(cluttered, PER_DOMAIN));
            expected.addAll(firstIds(clean, PER_DOMAIN));
            assertEquals(3 + PER_DOMAIN, expected.size());
            assertTrue(expected.contains(redelivered));
            assertEquals(expected, questions.stream().map(VqaSample::id).toList(),
                    "cluttered then clean, the first " + PER_DOMAIN + " ids of each, each id once");

            for (VqaSample q : questions) {
                VqaSample original = sent.get(q.id());
                assertNotNull(original, q.id());
                assertEquals(original.domain(), q.domain(), q.id());
                assertEquals(original.question(), q.question(), q.id());
                assertEquals(original.answer(), q.answer(), q.id());
                float[] want = original.image();
                float[] got = q.image();
                assertEquals(want.length, got.length, q.id());
                double maxDiff = 0;
                for (int i = 0; i < want.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
                }
                assertTrue(maxDiff <= PIXEL_TOLERANCE, q.id() + ": decoded pixels differ from the original's by "
                        + maxDiff + " (at most half an 8-bit step expected)");
            }

            // Only samples of domains that are not evaluated, and garbage: no question at all.
            List<byte[]> others = new ArrayList<>();
            for (VqaSample s : lowlight) {
                others.add(serializer.serialize(emptyTopic, record(s, true)));
            }
            others.add("not an Avro record".getBytes(StandardCharsets.UTF_8));
            send(kafka, emptyTopic, others);
            EvaluatorConfig none = new EvaluatorConfig(settings(kafka, scope, emptyTopic, "cluttered,clean"));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> EvalSet.load(none, deserializer));
            for (String word : List.of("empty", "topic", emptyTopic, "cluttered", "clean")) {
                assertTrue(e.getMessage().toLowerCase(java.util.Locale.ROOT).contains(word),
                        "the message names " + word + ": " + e.getMessage());
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** The ids of the first {@code n} samples in id order. */
    private static List<String> firstIds(List<VqaSample> samples, int n) {
        return samples.stream().map(VqaSample::id).sorted().limit(n).collect(Collectors.toList());
    }

    /** As the ingest service writes a synthetic sample (see SyntheticSource), with or without the inline image. */
    private static CalibrationSample record(VqaSample s, boolean withImage) {
        CalibrationSample.Builder b = Records.calibrationSample(s, s.id(), "synthetic", Instant.parse("2026-11-29T12:00:00Z"));
        if (!withImage) {
            b.setImage(null).setImageUri("file:/nowhere/" + s.id() + ".png");
        }
        return b.build();
    }

    private static Map<String, Object> settings(EmbeddedKafka kafka, String scope, String topic, String domains) {
        Map<String, Object> props = new HashMap<>();
        props.put(EvaluatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(EvaluatorConfig.METRICS_PORT, -1);
        props.put(EvaluatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(EvaluatorConfig.INSTANCE_ID, "evalset-test");
        props.put(EvaluatorConfig.EVAL_SOURCE, "topic");
        props.put(EvaluatorConfig.EVAL_TOPIC, topic);
        props.put(EvaluatorConfig.EVAL_DOMAINS, domains);
        props.put(EvaluatorConfig.EVAL_QUESTIONS_PER_DOMAIN, PER_DOMAIN);
        return props;
    }

    /** Creates the topics with {@value #PARTITIONS} partitions and waits for their leaders (they hold CalibrationSamples, as the samples topic does). */
    private static void createTopics(EmbeddedKafka kafka, String... names) throws InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            for (String name : names) {
                Topics.ensure(admin, Map.of(Topics.Topic.SAMPLES, name), PARTITIONS, (short) 1);
            }
            Map<String, Integer> partitions = admin.describeTopics(List.of(names)).allTopicNames().get().entrySet()
                    .stream().collect(Collectors.toMap(Map.Entry::getKey, t -> t.getValue().partitions().size()));
            assertEquals(List.of(names).stream().collect(Collectors.toMap(Function.identity(), n -> PARTITIONS)), partitions);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Round robin over the partitions, keyed by position; waits for every acknowledgement. */
    private static void send(EmbeddedKafka kafka, String topic, List<byte[]> values) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
            for (int i = 0; i < values.size(); i++) {
                acks.add(producer.send(new ProducerRecord<>(topic, i % PARTITIONS, Integer.toString(i).getBytes(), values.get(i))));
            }
            for (java.util.concurrent.Future<?> ack : acks) {
                ack.get();
            }
        }
    }
}
