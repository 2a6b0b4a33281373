package dev.qig.publisher;

import dev.qig.core.engine.LayerGroups;
import static dev.qig.publisher.PublisherTestKit.assertFilesMatch;
import static dev.qig.publisher.PublisherTestKit.committedFolders;
import static dev.qig.publisher.PublisherTestKit.incompleteFiles;
import static dev.qig.publisher.PublisherTestKit.promotion;
import static dev.qig.publisher.PublisherTestKit.read;
import static dev.qig.publisher.PublisherTestKit.readRaw;
import static dev.qig.publisher.PublisherTestKit.send;
import static dev.qig.publisher.PublisherTestKit.settings;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.publisher.internals.PublishedModels;
import dev.qig.publisher.store.FolderArtifactStore;
import dev.qig.publisher.store.Manifest;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.ModelPublished;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publisher on a real broker with the shipped model and a folder store: two W4A16 promotions
 * (round-to-nearest, and scales on one group) are each exported, committed once and announced once;
 * the same promotion sent again publishes nothing; a W3A16 promotion, which no engine serves, is
 * dead-lettered as unservable_scheme. A second publisher (another group, so it reads every
 * promotion again) restores what was published from the topic, skips all of it, and with
 * export.unservable=fake-quantize publishes the W3A16 config as fake-quantized. A third, whose store
 * fails every commit, retries a new promotion and then dead-letters it as publish_failed.
 */
class PublisherOnBrokerTest {

    @Test
    void promotionsArePublishedOnceAndUnservableOnesRefusedOrFakeQuantized(@TempDir Path dir) throws Exception {
        String scope = "publisher-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Path root = dir.resolve("published");
        String modelId;
        GroupKey group;
        int channels;
        try (NDManager m = NDManager.newBaseManager()) {
            Checkpoint.Loaded shipped = Checkpoint.load(Checkpoint.SHIPPED, m);
            modelId = shipped.modelId();
            VisionLanguageModel model = shipped.model();
            DecoderLayer first = model.layers().get(0);
            EqualizationGroup g = java.util.Arrays.stream(EqualizationGroup.values()).filter(e -> LayerGroups.appliesTo(e, first))
                    .findFirst().orElseThrow();
            group = new GroupKey(0, g);
            channels = LayerGroups.channels(g, first);
        }
        float[] scales = new float[channels];
        for (int i = 0; i < channels; i++) {
            scales[i] = 0.5f + 0.25f * (i % 5);
        }
        QuantConfig rtn = QuantConfig.rtn(modelId, QuantScheme.W4A16, Map.of());
        QuantConfig scaled = new QuantConfig(modelId, QuantScheme.W4A16, Method.QIG, 2, 2,
                Map.of(group, new QuantConfig.GroupChoice(0.5, scales, 1.0, 2.0)), Map.of());
        QuantConfig w3 = QuantConfig.rtn(modelId, QuantScheme.W3A16, Map.of());
        ActiveConfig rtnPromotion = promotion(rtn);
        ActiveConfig scaledPromotion = promotion(scaled);
        ActiveConfig w3Promotion = promotion(w3);

        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            PublisherConfig config = new PublisherConfig(settings(kafka, scope, root, "publisher-test-1"));
            String activeTopic = config.topic(Topics.Topic.ACTIVE_CONFIGS);
            String publishedTopic = config.topic(Topics.Topic.PUBLISHED_MODELS);
            AvroSerializer<ActiveConfig> serializer = new AvroSerializer<>(registry);
            AvroDeserializer<ModelPublished> events = new AvroDeserializer<>(registry, ModelPublished.class);
            List<byte[]> sequence = List.of(
                    serializer.serialize(activeTopic, rtnPromotion),     // published
                    serializer.serialize(activeTopic, scaledPromotion),  // published
                    serializer.serialize(activeTopic, rtnPromotion),     // a duplicate: skipped
                    serializer.serialize(activeTopic, w3Promotion));     // dead letter: unservable_scheme
            FolderArtifactStore store = new FolderArtifactStore(root, 0);

            try (Publisher publisher = new Publisher(config, registry)) {
                publisher.start();
                assertTrue(publisher.metrics().isReady(), "ready once it consumes");
                assertTrue(publisher.metrics().isLive());
                send(kafka, activeTopic, sequence);

                List<ModelPublished> published = read(kafka, publishedTopic, 2, events);
                List<ConsumerRecord<byte[], byte[]>> letters = readRaw(kafka, config.topic(Topics.Topic.DLQ), 1);
                await(() -> publisher.stats().consumed() == 4, "every promotion consumed");

                assertEquals(List.of(rtn.id(), scaled.id()), published.stream().map(ModelPublished::getConfigId).toList());
                List<ConsumerRecord<byte[], byte[]>> raw = readRaw(kafka, publishedTopic, 2);
                for (ConsumerRecord<byte[], byte[]> r : raw) {
                    assertEquals(events.deserialize(r.topic(), r.value()).getConfigId(), new String(r.key()), "key = config id");
                }
                checkPublished(published.get(0), rtnPromotion, store, "pack-quantized");
                checkPublished(published.get(1), scaledPromotion, store, "pack-quantized");
                assertTrue(!published.get(0).getContentHash().equals(published.get(1).getContentHash()),
                        "scales change the exported weights");
                assertEquals(2, committedFolders(root).size(), "one checkpoint per published config: " + committedFolders(root));
                assertEquals(List.of(), incompleteFiles(root));

                ConsumerRecord<byte[], byte[]> letter = letters.get(0);
                assertEquals("unservable_scheme", DeadLetters.header(letter.headers(), DeadLetters.REASON));
                assertEquals("publisher", DeadLetters.header(letter.headers(), DeadLetters.STAGE));
                assertEquals(activeTopic, DeadLetters.header(letter.headers(), DeadLetters.TOPIC));
                assertEquals(modelId, DeadLetters.header(letter.headers(), DeadLetters.MODEL));
                String message = DeadLetters.header(letter.headers(), DeadLetters.MESSAGE);
                assertTrue(message.contains(w3.id()) && !message.contains("\n"), "one line naming the config: " + message);
                assertArrayEquals(sequence.get(3), letter.value(), "original bytes");

                assertEquals(2, publisher.stats().published());
                assertEquals(Map.of("pack-quantized", 2L), publisher.stats().publishedByFormat());
                assertEquals(1, publisher.stats().skippedDuplicates());
                assertEquals(Map.of("unservable_scheme", 1L), publisher.stats().failuresByReason());
                assertEquals(published.get(0).getTotalBytes() + published.get(1).getTotalBytes(), publisher.stats().bytes());
                assertTrue(publisher.stats().publishSeconds() > 0);
            }

            // The same promotions for a publisher that reads them all again and fake-quantizes what no engine serves.
            Map<String, Object> again = settings(kafka, scope, root, "publisher-test-2");
            again.put(PublisherConfig.EXPORT_UNSERVABLE, "fake-quantize");
            try (Publisher publisher = new Publisher(new PublisherConfig(again), registry)) {
                publisher.start();
                List<ModelPublished> published = read(kafka, publishedTopic, 3, events);
                await(() -> publisher.stats().consumed() == 4, "every promotion consumed");
                ModelPublished fake = published.get(2);
                assertEquals(w3.id(), fake.getConfigId());
                checkPublished(fake, w3Promotion, store, "fake-quantized");
                assertEquals(3, publisher.stats().skippedDuplicates(), "restored from the published-models topic");
                assertEquals(Map.of("fake-quantized", 1L), publisher.stats().publishedByFormat());
                assertEquals(Map.of(), publisher.stats().failuresByReason());
                readRaw(kafka, config.topic(Topics.Topic.DLQ), 1);
                assertEquals(3, committedFolders(root).size(), committedFolders(root).toString());
                assertEquals(List.of(), incompleteFiles(root));
            }

            // A store that fails every commit (its root is a file): retried, then dead-lettered with the last error.
            QuantConfig w8 = QuantConfig.rtn(modelId, QuantScheme.W8A8, Map.of());
            Path notAFolder = java.nio.file.Files.writeString(dir.resolve("not-a-folder"), "a file");
            Map<String, Object> broken = settings(kafka, scope, notAFolder, "publisher-test-3");
            broken.put(PublisherConfig.PUBLISH_RETRIES, 2);
            broken.put(PublisherConfig.PUBLISH_RETRY_BACKOFF_MS, 50L);
            try (Publisher publisher = new Publisher(new PublisherConfig(broken), registry)) {
                publisher.start();
                byte[] w8Bytes = serializer.serialize(activeTopic, promotion(w8));
                send(kafka, activeTopic, List.of(w8Bytes));
                List<ConsumerRecord<byte[], byte[]>> letters = readRaw(kafka, config.topic(Topics.Topic.DLQ), 2);
                ConsumerRecord<byte[], byte[]> letter = letters.get(1);
                assertEquals("publish_failed", DeadLetters.header(letter.headers(), DeadLetters.REASON));
                String message = DeadLetters.header(letter.headers(), DeadLetters.MESSAGE);
                assertTrue(message.contains(w8.id()) && message.contains("3 times") && message.contains("last error"), message);
                assertArrayEquals(w8Bytes, letter.value(), "original bytes");
                await(() -> publisher.stats().consumed() == 5, "every promotion consumed");
                assertEquals(4, publisher.stats().skippedDuplicates(), "the w3a16 config too, published by the second");
                assertEquals(2, publisher.stats().commitRetries());
                assertEquals(Map.of("publish_failed", 1L), publisher.stats().failuresByReason());
                assertEquals(0, publisher.stats().published());
                readRaw(kafka, publishedTopic, 3);
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** The event names its promotion, its committed checkpoint in the store, the files as on disk, and the evaluations. */
    private static void checkPublished(ModelPublished event, ActiveConfig promotion, FolderArtifactStore store, String format)
            throws Exception {
        dev.qig.schemas.QuantConfig c = promotion.getConfig();
        assertEquals(c.getModel(), event.getModel());
        assertEquals(c.getScheme(), event.getScheme());
        assertEquals(c.getMethod(), event.getMethod());
        assertEquals(c.getVersion(), event.getConfigVersion());
        assertEquals(format, event.getFormat());
        String key = PublishedModels.storeKey(c.getConfigId(), event.getContentHash());
        assertEquals(store.location(key), event.getLocation());
        Manifest manifest = store.committed(key).orElseThrow(() -> new AssertionError("nothing committed under " + key));
        assertEquals(key, manifest.key());
        assertTrue(!manifest.files().isEmpty());
        assertFilesMatch(event, manifest);
        assertEquals(promotion.getEvaluations(), event.getEvaluations(), "the evaluations that promoted it");
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
