package dev.qig.attributor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import dev.qig.kafka.metrics.PrometheusText;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad input, planted among good samples on a real broker, lands in the dead-letter
 * topic with its reason and its original bytes; every sample is accounted for, attributed or
 * dead-lettered; the good ones (an image of another size included) are attributed.
 *
 * <p>Non-finite activations need a model that produces them for one input only: the shipped model
 * with the embedding of one word set to NaN, served by this test's attributor. Only the planted
 * sample uses that word.
 */
class AttributorDeadLetterTest {

    private static final String NAN_WORD = "triangles";

    @TempDir
    Path tmp;

    @Test
    void everyBadInputIsDeadLetteredWithItsReasonAndEverySampleIsAccountedFor() throws Exception {
        Path modelDir = tmp.resolve("model-with-a-nan-word");
        String modelId = writeModelWithNanWord(modelDir);
        String scope = "dlq-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, Object> props = new HashMap<>();
            props.put(AttributorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            props.put(AttributorConfig.METRICS_PORT, 0);
            props.put(AttributorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
            props.put(AttributorConfig.MODELS, modelDir.toString());
            props.put(AttributorConfig.INSTANCE_ID, "dlq-test");
            AttributorConfig config = new AttributorConfig(props);
            String samplesTopic = config.topic(Topics.Topic.SAMPLES);

            // What goes in: good samples, then one of each kind of bad input (expected reason -> bytes).
            AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(registry);
            List<VqaSample> good = new ArrayList<>();
            for (VqaSample s : new SyntheticWorld().generate(Domain.CLEAN, 12, 41)) {
                if (!s.question().contains(NAN_WORD) && !s.answer().contains(NAN_WORD) && good.size() < 4) {
                    good.add(s);
                }
            }
            VqaSample base = good.get(0);
            Map<String, byte[]> bad = new LinkedHashMap<>();
            bad.put("not_wire_format", "hello".getBytes());
            byte[] valid = serializer.serialize(samplesTopic, sample(base, "truncated").build());
            byte[] unknownId = valid.clone();
            unknownId[1] = 0;
            unknownId[2] = 0;
            unknownId[3] = 0x27;
            unknownId[4] = 0x0f;
            bad.put("unknown_schema_id", unknownId);
            bad.put("corrupt_avro", java.util.Arrays.copyOf(valid, valid.length / 2));
            bad.put("missing_image", serializer.serialize(samplesTopic, sample(base, "no-image").setImage(null).build()));
            bad.put("missing_image#file", serializer.serialize(samplesTopic, sample(base, "no-file").setImage(null)
                    .setImageUri(tmp.resolve("absent.png").toUri().toString()).build()));
            bad.put("corrupt_image", serializer.serialize(samplesTopic, sample(base, "bad-png")
                    .setImage(ByteBuffer.wrap("not a png".getBytes())).build()));
            bad.put("empty_prompt", serializer.serialize(samplesTopic, sample(base, "empty-prompt").setPrompt("  ").build()));
            bad.put("oversize_prompt", serializer.serialize(samplesTopic, sample(base, "long-text")
                    .setPrompt("what ".repeat(600) + "?").build()));
            bad.put("oversize_prompt#tokens", serializer.serialize(samplesTopic, sample(base, "long-sequence")
                    .setPrompt("is there a red circle ? ".repeat(14).strip()).build()));
            bad.put("unknown_word", serializer.serialize(samplesTopic, sample(base, "magenta")
                    .setPrompt("what is the magenta object ?").build()));
            bad.put("invalid_prompt", serializer.serialize(samplesTopic, sample(base, "template-token")
                    .setPrompt("what is <bos> the red object ?").build()));
            bad.put("empty_answer", serializer.serialize(samplesTopic, sample(base, "empty-answer").setAnswer("").build()));
            bad.put("unknown_model", serializer.serialize(samplesTopic, sample(base, "other-model")
                    .setModel("sha256-0000000000000000").build()));
            bad.put("oversize_image", serializer.serialize(samplesTopic, sample(base, "bomb")
                    .setImage(ByteBuffer.wrap(decompressionBomb())).build()));
            bad.put("null_value", null);
            bad.put("non_finite", serializer.serialize(samplesTopic, sample(base, "nan")
                    .setPrompt("how many " + NAN_WORD + " are there ?").setAnswer("two").build()));

            List<byte[]> goodBytes = new ArrayList<>();
            for (VqaSample s : good) {
                goodBytes.add(serializer.serialize(samplesTopic, sample(s, s.id()).build()));
            }
            goodBytes.add(serializer.serialize(samplesTopic, sample(base, "resized")
                    .setImage(ByteBuffer.wrap(png64(base))).build()));

            try (Attributor attributor = new Attributor(config, registry)) {
                attributor.start();
                try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                        kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
                    for (byte[] b : goodBytes) {
                        producer.send(new ProducerRecord<>(samplesTopic, "good".getBytes(), b));
                    }
                    for (Map.Entry<String, byte[]> e : bad.entrySet()) {
                        producer.send(new ProducerRecord<>(samplesTopic, e.getKey().getBytes(), e.getValue()));
                    }
                }
                List<ConsumerRecord<byte[], byte[]>> stats = read(kafka, config.topic(Topics.Topic.LAYER_STATS), goodBytes.size());
                List<ConsumerRecord<byte[], byte[]>> letters = read(kafka, config.topic(Topics.Topic.DLQ), bad.size());

                AvroDeserializer<LayerStats> statsReader = new AvroDeserializer<>(registry, LayerStats.class);
                List<String> attributed = new ArrayList<>();
                for (ConsumerRecord<byte[], byte[]> r : stats) {
                    LayerStats s = statsReader.deserialize(r.topic(), r.value());
                    assertEquals(modelId, s.getModel(), "records name the model by content, not location");
                    assertEquals(PartialsKind.STATISTICS, s.getKind(), "no plan yet: statistics only");
                    assertEquals(12, s.getStatistics().size(), "every group of the 4-layer model");
                    attributed.add(s.getSampleId());
                }
                assertTrue(attributed.contains("resized"), "an image of another size is resized and attributed: " + attributed);

                Map<String, byte[]> byKey = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : letters) {
                    String key = new String(r.key());
                    String reason = DeadLetters.header(r.headers(), DeadLetters.REASON);
                    assertEquals(key.replaceAll("#.*", ""), reason, "reason of " + key + ": "
                            + DeadLetters.header(r.headers(), DeadLetters.MESSAGE));
                    assertEquals("attributor", DeadLetters.header(r.headers(), DeadLetters.STAGE));
                    assertEquals(samplesTopic, DeadLetters.header(r.headers(), DeadLetters.TOPIC));
                    assertNotNull(DeadLetters.header(r.headers(), DeadLetters.OFFSET));
                    assertNotNull(DeadLetters.header(r.headers(), DeadLetters.MESSAGE));
                    byKey.put(key, r.value());
                }
                assertEquals(bad.keySet(), byKey.keySet(), "one dead letter per bad input");
                bad.forEach((k, v) -> assertArrayEquals(v, byKey.get(k), "original bytes of " + k));
                assertEquals(modelId, DeadLetters.header(letters.stream().filter(r -> new String(r.key()).equals("non_finite"))
                        .findFirst().orElseThrow().headers(), DeadLetters.MODEL));

                // Accounted for: everything consumed was attributed or dead-lettered.
                long sent = goodBytes.size() + bad.size();
                assertEquals(sent, attributor.stats().consumed());
                assertEquals(sent, attributor.stats().attributed() + attributor.stats().deadLettered());

                // The same on the metrics endpoint: one dead letter per reason, the samples consumed and attributed.
                PrometheusText scraped = PrometheusText.parse(HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(attributor.metrics().metricsUrl())).build(), HttpResponse.BodyHandlers.ofString()).body());
                Map<String, Double> byReason = new HashMap<>();
                scraped.series("qig_dead_letters_total").stream().filter(x -> x.value() > 0)
                        .forEach(x -> byReason.put(x.label("reason"), x.value()));
                Map<String, Double> expected = new HashMap<>();
                bad.keySet().forEach(k -> expected.merge(k.replaceAll("#.*", ""), 1.0, Double::sum));
                assertEquals(expected, byReason);
                assertEquals(sent, scraped.sum("qig_samples_consumed_total"));
                assertEquals(goodBytes.size(), scraped.sum("qig_samples_attributed_total"));
                assertEquals(modelId, scraped.series("qig_samples_attributed_total").get(0).label("model"));
                assertTrue(scraped.sum("qig_attribution_seconds_count") >= 1, "engine passes timed");
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** A valid PNG of 5000 x 5000 black pixels: a few kilobytes that would decode to 25 M pixels. */
    private static byte[] decompressionBomb() throws java.io.IOException {
        BufferedImage image = new BufferedImage(5000, 5000, BufferedImage.TYPE_BYTE_BINARY);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    private static CalibrationSample.Builder sample(VqaSample s, String id) {
        return Records.calibrationSample(s, id, "test", Instant.parse("2026-11-29T12:00:00Z"));
    }

    /** The sample's image as a 64x64 PNG (nearest neighbour), for the resize path. */
    private static byte[] png64(VqaSample s) throws Exception {
        BufferedImage small = s.toImage();
        BufferedImage big = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                big.setRGB(x, y, small.getRGB(x * 48 / 64, y * 48 / 64));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(big, "png", out);
        return out.toByteArray();
    }

    private static String writeModelWithNanWord(Path dir) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.Loaded shipped = Checkpoint.load(Checkpoint.SHIPPED, m);
            int row = shipped.vocabulary().indexOf(NAN_WORD);
            NDArray embedding = shipped.model().weights().parameters().entrySet().stream()
                    .filter(e -> e.getKey().contains("embed_tokens")).findFirst().orElseThrow().getValue().getArray();
            embedding.set(new NDIndex(row + ", :"), Float.NaN);
            Checkpoint.save(shipped.model(), shipped.vocabulary(), shipped.metadata(), dir);
        }
        return Checkpoint.modelId(dir);
    }

    private static List<ConsumerRecord<byte[], byte[]>> read(EmbeddedKafka kafka, String topic, int n) {
        List<ConsumerRecord<byte[], byte[]>> out = dev.qig.kafka.testing.TopicRecords.read(kafka.bootstrapServers(), topic, n);
        assertEquals(n, out.size(), "records on " + topic);
        return out;
    }
}
