package dev.qig.publisher;

import static dev.qig.publisher.PublisherTestKit.assertFilesMatch;
import static dev.qig.publisher.PublisherTestKit.committedFolders;
import static dev.qig.publisher.PublisherTestKit.incompleteFiles;
import static dev.qig.publisher.PublisherTestKit.promotion;
import static dev.qig.publisher.PublisherTestKit.read;
import static dev.qig.publisher.PublisherTestKit.readRaw;
import static dev.qig.publisher.PublisherTestKit.send;
import static dev.qig.publisher.PublisherTestKit.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.core.model.Checkpoint;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
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
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A publisher killed with SIGKILL in the middle of an upload (a child JVM whose store copies at
 * 200 kB/s), then started again: the restart removes the interrupted upload, publishes the
 * promotion whose offset was never committed, and there is exactly one complete checkpoint and one
 * ModelPublished.
 */
class PublisherKillTest {

    @Test
    void aPublisherKilledDuringAnUploadPublishesExactlyOnceAfterItsRestart(@TempDir Path dir) throws Exception {
        String scope = "publisher-kill-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Path root = dir.resolve("published");
        String modelId = Checkpoint.modelId(Checkpoint.SHIPPED);
        QuantConfig rtn = QuantConfig.rtn(modelId, QuantScheme.W4A16, Map.of());
        ActiveConfig rtnPromotion = promotion(rtn);

        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, Object> settings = settings(kafka, scope, root, "publisher-kill");
            Path work = dir.resolve("export-work"); // the child's and the restart's: one publisher, one work folder
            settings.put(PublisherConfig.EXPORT_WORK_DIR, work.toString());
            PublisherConfig config = new PublisherConfig(settings);
            PublisherTestKit.registerSchemas(registry, config); // before anything else, as the child does
            config.ensureTopics(Topics.Topic.ACTIVE_CONFIGS, Topics.Topic.PUBLISHED_MODELS, Topics.Topic.DLQ);
            String activeTopic = config.topic(Topics.Topic.ACTIVE_CONFIGS);
            String publishedTopic = config.topic(Topics.Topic.PUBLISHED_MODELS);
            send(kafka, activeTopic, List.of(new AvroSerializer<ActiveConfig>(registry).serialize(activeTopic, rtnPromotion)));

            Properties child = new Properties();
            settings.forEach((k, v) -> child.setProperty(k, String.valueOf(v)));
            child.setProperty(PublisherConfig.STORE_THROTTLE_BYTES_PER_SECOND, "200000");
            child.setProperty(PublisherConfig.INSTANCE_ID, "publisher-child");
            Path props = dir.resolve("child.properties");
            try (OutputStream out = Files.newOutputStream(props)) {
                child.store(out, "publisher to be killed");
            }
            Path log = dir.resolve("child.log");
            dev.qig.kafka.testing.ChildJvm.killWhen(startChild(props, log), log,
                    () -> incompleteFiles(root).stream().anyMatch(PublisherKillTest::nonEmpty), "upload started");
            assertEquals(List.of(), committedFolders(root), "killed during the upload: nothing committed");
            assertFalse(incompleteFiles(root).isEmpty(), "the interrupted upload is left behind");
            assertTrue(filesIn(work) > 0, "and so is the export it was uploading");
            readRaw(kafka, publishedTopic, 0);

            // The restart: same group, so the promotion, never committed, comes again; no throttle.
            try (Publisher publisher = new Publisher(new PublisherConfig(settings), registry)) {
                publisher.start();
                List<ModelPublished> published = read(kafka, publishedTopic, 1,
                        new AvroDeserializer<>(registry, ModelPublished.class));
                ModelPublished event = published.get(0);
                assertEquals(rtn.id(), event.getConfigId());
                List<Path> committed = committedFolders(root);
                assertEquals(1, committed.size(), committed.toString());
                FolderArtifactStore store = new FolderArtifactStore(root, 0);
                String key = PublishedModels.storeKey(rtn.id(), event.getContentHash());
                assertEquals(Path.of(store.location(key)), committed.get(0));
                Manifest manifest = store.committed(key).orElseThrow();
                assertFilesMatch(event, manifest);
                assertEquals(rtnPromotion.getEvaluations(), event.getEvaluations());
                assertEquals(List.of(), incompleteFiles(root), "the restart removed the interrupted upload");
                assertEquals(0, filesIn(work), "and the export the killed publisher left (the new one deleted its own)");
                assertEquals(0, store.removeIncomplete());
                assertEquals(1, publisher.stats().published());
                assertEquals(0, publisher.stats().skippedDuplicates());
            }
            readRaw(kafka, config.topic(Topics.Topic.DLQ), 0);
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private static long filesIn(Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).count();
        }
    }

    private static boolean nonEmpty(Path file) {
        try {
            return Files.size(file) > 0;
        } catch (java.io.IOException e) {
            return false; // renamed or removed meanwhile
        }
    }

    /** The publisher in a JVM of its own. */
    private static Process startChild(Path props, Path log) throws java.io.IOException {
        return dev.qig.kafka.testing.ChildJvm.start(PublisherProcess.class, log, List.of(), props.toString());
    }

}
