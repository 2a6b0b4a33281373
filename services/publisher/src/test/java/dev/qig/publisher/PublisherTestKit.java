package dev.qig.publisher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qig.core.export.ExportedFile;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.QuantConfig;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.publisher.store.Manifest;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.ModelPublished;
import dev.qig.schemas.PublishedFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** What the publisher's broker tests share: settings, promotions, reading topics and checking the folder store. */
final class PublisherTestKit {

    /** Every promotion under one key: processed in the order sent. */
    static final String KEY = "one-partition";

    private PublisherTestKit() {}

    static Map<String, Object> settings(EmbeddedKafka kafka, String scope, Path store, String group) {
        Map<String, Object> props = new HashMap<>();
        props.put(PublisherConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(PublisherConfig.METRICS_PORT, -1);
        props.put(PublisherConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(PublisherConfig.INSTANCE_ID, "publisher-test");
        props.put(PublisherConfig.GROUP_ID, group);
        props.put(PublisherConfig.STORE_FOLDER_PATH, store.toString());
        props.put(PublisherConfig.PUBLISH_RETRY_BACKOFF_MS, 100L);
        // A killed member leaves the group after its session: 6 s (the broker's minimum), not 45.
        props.put("session.timeout.ms", "6000");
        props.put("heartbeat.interval.ms", "1000");
        return props;
    }

    /**
     * Registers the schemas of the topics a publisher reads in a fixed order. A mock:// registry lives
     * in one JVM and numbers schemas from 1 as they come, so a child JVM that does the same gives the
     * same ids as the test's.
     */
    static void registerSchemas(SchemaRegistryClient registry, PublisherConfig config) {
        registry.register(config.topic(Topics.Topic.ACTIVE_CONFIGS) + "-value", ActiveConfig.getClassSchema());
        registry.register(config.topic(Topics.Topic.PUBLISHED_MODELS) + "-value", ModelPublished.getClassSchema());
    }

    /** A promotion of {@code c} as the evaluator writes it, with two domains' results. */
    static ActiveConfig promotion(QuantConfig c) {
        dev.qig.schemas.QuantConfig record = Records.configRecord(c, Records.settingsRecord(
                CalibrationSettings.builder(c.scheme()).build(), EnumSet.of(c.method())), 1, 64,
                Instant.parse("2026-11-29T12:00:00Z"));
        List<EvalResult> evaluations = new ArrayList<>();
        for (String domain : List.of("clean", "cluttered")) {
            evaluations.add(EvalResult.newBuilder()
                    .setConfigId(c.id()).setModel(c.model()).setScheme(c.scheme().id()).setMethod(c.method().id())
                    .setConfigVersion(c.version()).setDomain(domain).setQuestions(30)
                    .setAccuracy(domain.equals("clean") ? 0.9 : 0.8).setAnswerLogLikelihood(-0.3)
                    .setKlToFullPrecision(0.01).setTokensPerSecond(1000).setWeightBytes(123456).setDevice("cpu()")
                    .setDecision("promoted (test)").setEvaluatedAt(Instant.parse("2026-11-29T12:01:00Z"))
                    .build());
        }
        return ActiveConfig.newBuilder()
                .setModel(c.model())
                .setScheme(c.scheme().id())
                .setConfig(record)
                .setEvaluations(evaluations)
                .setDecision("promoted (test)")
                .setPromotedAt(Instant.parse("2026-11-29T12:02:00Z"))
                .build();
    }

    static void send(EmbeddedKafka kafka, String topic, List<byte[]> values) {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (byte[] v : values) {
                producer.send(new ProducerRecord<>(topic, KEY.getBytes(), v));
            }
        }
    }

    static <T extends SpecificRecord> List<T> read(EmbeddedKafka kafka, String topic, int n, AvroDeserializer<T> deserializer) {
        return readRaw(kafka, topic, n).stream().map(r -> deserializer.deserialize(r.topic(), r.value())).toList();
    }

    /** Waits for {@code n} records (read_committed), then checks that no more come; in order within each partition. */
    static List<ConsumerRecord<byte[], byte[]>> readRaw(EmbeddedKafka kafka, String topic, int n) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "group.id", "read-" + UUID.randomUUID(), "auto.offset.reset", "earliest", "isolation.level", "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 300_000;
            while (out.size() < n && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            long quiet = System.currentTimeMillis() + 1500; // nothing beyond the expected
            while (System.currentTimeMillis() < quiet) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        assertEquals(n, out.size(), "records on " + topic);
        return out;
    }

    /** Folders of the store holding a manifest: the committed checkpoints (the temporary place left out). */
    static List<Path> committedFolders(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(p -> p.getFileName().toString().equals(Manifest.FILE))
                    .filter(p -> !root.relativize(p).toString().startsWith(".incomplete"))
                    .map(Path::getParent).sorted().toList();
        }
    }

    /** Regular files under the store's temporary place. */
    static List<Path> incompleteFiles(Path root) throws IOException {
        Path incomplete = root.resolve(".incomplete");
        if (!Files.isDirectory(incomplete)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(incomplete)) {
            return walk.filter(Files::isRegularFile).toList();
        }
    }

    /** Checks that every file the event lists is in its location with the size and SHA-256 listed, and nothing else but the manifest. */
    static void assertFilesMatch(ModelPublished event, Manifest manifest) throws IOException {
        List<PublishedFile> listed = manifest.files().stream().map(f -> PublishedFile.newBuilder().setPath(f.path())
                .setSize(f.size()).setSha256(f.sha256()).build()).toList();
        assertEquals(listed, event.getFiles(), "the event lists the manifest's files");
        assertEquals(manifest.contentHash(), event.getContentHash());
        long total = 0;
        Path folder = Path.of(event.getLocation());
        for (ExportedFile f : manifest.files()) {
            Path file = folder.resolve(f.path());
            assertEquals(f.size(), Files.size(file), f.path());
            assertEquals(f.sha256(), sha256(file), f.path());
            total += f.size();
        }
        assertEquals(total, event.getTotalBytes());
        try (Stream<Path> walk = Files.walk(folder)) {
            assertEquals(manifest.files().size() + 1, walk.filter(Files::isRegularFile).count(),
                    "the checkpoint's files and its manifest, nothing else, in " + folder);
        }
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
