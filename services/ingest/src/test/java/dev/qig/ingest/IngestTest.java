package dev.qig.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.data.ImageCodec;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.CalibrationSample;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ingest against a real in-process broker; every test writes to topics and a registry scope of its own. */
class IngestTest {

    private static final Duration READ_TIMEOUT = Duration.ofSeconds(20);
    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startBroker() {
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    /** Settings of one test: its own topics and registry scope. */
    private record Setup(Map<String, Object> props, String samples, String dlq, SchemaRegistryClient registry) {
        static Setup fresh(Map<String, Object> extra) {
            String run = UUID.randomUUID().toString().substring(0, 8);
            Map<String, Object> props = new HashMap<>();
            props.put("bootstrap.servers", kafka.bootstrapServers());
            props.put("schema.registry.url", "mock://ingest-test-" + run);
            props.put("topic.samples", "samples-" + run);
            props.put("topic.dlq", "dlq-" + run);
            props.put("metrics.port", 0);
            // A record the broker never acknowledges fails the test in seconds rather than the default 2 minutes.
            props.put("delivery.timeout.ms", "15000");
            props.put("request.timeout.ms", "10000");
            props.putAll(extra);
            return new Setup(props, "samples-" + run, "dlq-" + run, SchemaRegistries.create(props));
        }

        IngestConfig config() {
            return new IngestConfig(props);
        }
    }

    @Test
    void syntheticScheduleIsStreamedInOrderWithStableIds() throws Exception {
        Setup s = Setup.fresh(Map.of("synthetic.schedule", "clean:3,lowlight:2", "synthetic.seed", "7",
                "source.name", "test-src", "model", "qig-vqa-small"));
        List<Long> progress = new ArrayList<>();
        Ingest.Summary summary;
        try (Ingest ingest = new Ingest(s.config(), s.registry())) {
            summary = ingest.run(progress::add);
        }
        assertEquals(5, summary.samplesSent());
        assertEquals(0, summary.deadLettered());
        assertFalse(summary.stopped());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), progress);

        List<ConsumerRecord<byte[], byte[]>> records = readAll(s.samples(), 5);
        assertEquals(0, readAll(s.dlq(), 0).size());
        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(s.registry(), CalibrationSample.class);
        Pattern idFormat = Pattern.compile("test-src-(clean|lowlight)-7-(\\d)-(\\d)");
        Map<String, Integer> perDomain = new HashMap<>();
        Map<Integer, Integer> lastPositionPerPartition = new HashMap<>();
        Map<String, CalibrationSample> byId = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            CalibrationSample sample = values.deserialize(r.topic(), r.value());
            String key = new String(r.key(), StandardCharsets.UTF_8);
            assertEquals(sample.getSampleId(), key, "key = sample id");
            Matcher m = idFormat.matcher(key);
            assertTrue(m.matches(), key);
            int segment = Integer.parseInt(m.group(2));
            int index = Integer.parseInt(m.group(3));
            assertEquals(segment == 0 ? "clean" : "lowlight", sample.getDomain());
            assertEquals(m.group(1), sample.getDomain());
            perDomain.merge(sample.getDomain(), 1, Integer::sum);
            // Records are read in offset order per partition: schedule position must only grow there.
            int position = segment * 100 + index;
            Integer before = lastPositionPerPartition.put(r.partition(), position);
            assertTrue(before == null || before < position, "schedule order in partition " + r.partition());

            assertEquals(3 * 48 * 48, ImageCodec.decode(bytes(sample.getImage()), 48).length);
            assertNull(sample.getImageUri());
            assertEquals("test-src", sample.getSource());
            assertEquals("qig-vqa-small", sample.getModel());
            assertNotNull(sample.getEventTime());
            byId.put(key, sample);
        }
        assertEquals(Map.of("clean", 3, "lowlight", 2), perDomain);
        assertEquals(5, byId.size(), "ids are unique");

        // Segment i is SyntheticWorld.generate(domain, count, seed + i).
        SyntheticWorld world = new SyntheticWorld();
        VqaSample firstLowlight = world.generate(Domain.LOWLIGHT, 2, 8).get(0);
        CalibrationSample sent = byId.get("test-src-lowlight-7-1-0");
        assertEquals(firstLowlight.question(), sent.getPrompt());
        assertEquals(firstLowlight.answer(), sent.getAnswer());
        assertArrayEquals(firstLowlight.toPng(), bytes(sent.getImage()));
    }

    @Test
    void sameConfigGivesSameIdsAndSamples() throws Exception {
        Setup s = Setup.fresh(Map.of("synthetic.schedule", "qmix:2,clean:2"));
        for (int run = 0; run < 2; run++) {
            try (Ingest ingest = new Ingest(s.config(), s.registry())) {
                assertEquals(4, ingest.run().samplesSent());
            }
        }
        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(s.registry(), CalibrationSample.class);
        Map<String, List<CalibrationSample>> byId = readAll(s.samples(), 8).stream()
                .map(r -> values.deserialize(r.topic(), r.value()))
                .collect(Collectors.groupingBy(CalibrationSample::getSampleId));
        assertEquals(4, byId.size(), "both runs use the same 4 ids: " + byId.keySet());
        byId.forEach((id, twice) -> {
            assertEquals(2, twice.size(), id);
            assertEquals(twice.get(0).getPrompt(), twice.get(1).getPrompt(), id);
            assertArrayEquals(bytes(twice.get(0).getImage()), bytes(twice.get(1).getImage()), id);
        });
    }

    @Test
    void folderSourceSendsSamplesAndDeadLettersWhatCannotBeOne(@TempDir Path dir) throws Exception {
        byte[] png = new SyntheticWorld().generate(Domain.CLEAN, 1, 1).get(0).toPng();
        Files.createDirectories(dir.resolve("img"));
        Files.write(dir.resolve("img/a.png"), png);
        write(dir, "a-good.json", """
                {"image": "img/a.png", "prompt": "what color is the circle", "answer": "red", "domain": "shop", "id": "good-1"}
                """);
        write(dir, "b-missing-image.json", """
                {"image": "nope.png", "prompt": "how many squares", "answer": "two", "domain": "shop"}
                """);
        byte[] broken = "{\"image\": \"img/a.png\", \"prompt\": ".getBytes(StandardCharsets.UTF_8);
        Files.write(dir.resolve("c-broken.json"), broken);
        byte[] noPrompt = "{\"image\": \"img/a.png\", \"answer\": \"red\"}".getBytes(StandardCharsets.UTF_8);
        Files.write(dir.resolve("d-no-prompt.json"), noPrompt);
        write(dir, "notes.txt", "not a sample");

        Setup s = Setup.fresh(Map.of("source", "folder", "folder.path", dir.toString(), "source.name", "uploads"));
        Ingest.Summary summary;
        try (Ingest ingest = new Ingest(s.config(), s.registry())) {
            summary = ingest.run();
        }
        assertEquals(2, summary.samplesSent());
        assertEquals(2, summary.deadLettered());

        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(s.registry(), CalibrationSample.class);
        Map<String, CalibrationSample> samples = readAll(s.samples(), 2).stream()
                .map(r -> values.deserialize(r.topic(), r.value()))
                .collect(Collectors.toMap(CalibrationSample::getSampleId, x -> x));
        CalibrationSample good = samples.get("good-1");
        assertArrayEquals(png, bytes(good.getImage()));
        assertNull(good.getImageUri());
        assertEquals("what color is the circle", good.getPrompt());
        assertEquals("red", good.getAnswer());
        assertEquals("shop", good.getDomain());
        assertEquals("uploads", good.getSource());
        assertNull(good.getModel());
        CalibrationSample missing = samples.get("b-missing-image");
        assertNotNull(missing, "id defaults to the file name: " + samples.keySet());
        assertNull(missing.getImage());
        assertEquals(dir.resolve("nope.png").toUri().toString(), missing.getImageUri());
        assertTrue(missing.getImageUri().startsWith("file:"));

        Map<String, ConsumerRecord<byte[], byte[]>> letters = readAll(s.dlq(), 2).stream()
                .collect(Collectors.toMap(r -> new String(r.key(), StandardCharsets.UTF_8), r -> r));
        ConsumerRecord<byte[], byte[]> letter = letters.get("c-broken.json");
        assertArrayEquals(broken, letter.value(), "the original bytes");
        assertEquals("malformed_input", DeadLetters.header(letter.headers(), DeadLetters.REASON));
        assertEquals("ingest", DeadLetters.header(letter.headers(), DeadLetters.STAGE));
        assertNotNull(DeadLetters.header(letter.headers(), DeadLetters.EXCEPTION));
        assertNull(DeadLetters.header(letter.headers(), DeadLetters.TOPIC), "never read from a topic");
        ConsumerRecord<byte[], byte[]> unasked = letters.get("d-no-prompt.json");
        assertArrayEquals(noPrompt, unasked.value());
        assertEquals("empty_prompt", DeadLetters.header(unasked.headers(), DeadLetters.REASON));
    }

    @Test
    void anImageTooLargeForARecordIsDeadLetteredWithoutItsBytesAndTheFolderGoesOn(@TempDir Path dir) throws Exception {
        byte[] png = new SyntheticWorld().generate(Domain.CLEAN, 1, 1).get(0).toPng();
        Files.createDirectories(dir.resolve("img"));
        Files.write(dir.resolve("img/a.png"), png);
        // 1000 x 1000 pixels of noise: about 3 MB of PNG, past the producer's 1 MB max.request.size.
        java.awt.image.BufferedImage noise = new java.awt.image.BufferedImage(1000, 1000,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.util.Random random = new java.util.Random(3);
        for (int y = 0; y < 1000; y++) {
            for (int x = 0; x < 1000; x++) {
                noise.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        java.io.ByteArrayOutputStream big = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(noise, "png", big);
        assertTrue(big.size() > 2_000_000, big.size() + " bytes");
        Files.write(dir.resolve("img/big.png"), big.toByteArray());
        write(dir, "a.json", """
                {"image": "img/a.png", "prompt": "what color is the circle", "answer": "red", "id": "before"}
                """);
        write(dir, "b.json", """
                {"image": "img/big.png", "prompt": "what color is the circle", "answer": "red", "id": "huge"}
                """);
        write(dir, "c.json", """
                {"image": "img/a.png", "prompt": "how many squares", "answer": "two", "id": "after"}
                """);

        Setup s = Setup.fresh(Map.of("source", "folder", "folder.path", dir.toString()));
        Ingest.Summary summary;
        try (Ingest ingest = new Ingest(s.config(), s.registry())) {
            summary = ingest.run();
        }
        assertEquals(2, summary.samplesSent(), "the samples before and after the large one");
        assertEquals(1, summary.deadLettered());
        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(s.registry(), CalibrationSample.class);
        assertEquals(java.util.Set.of("before", "after"), readAll(s.samples(), 2).stream()
                .map(r -> values.deserialize(r.topic(), r.value()).getSampleId()).collect(Collectors.toSet()));
        ConsumerRecord<byte[], byte[]> letter = readAll(s.dlq(), 1).get(0);
        assertEquals("oversize_image", DeadLetters.header(letter.headers(), DeadLetters.REASON));
        assertTrue(DeadLetters.header(letter.headers(), DeadLetters.MESSAGE).contains("max.request.size"),
                DeadLetters.header(letter.headers(), DeadLetters.MESSAGE));
        CalibrationSample stripped = values.deserialize(s.dlq(), letter.value());
        assertEquals("huge", stripped.getSampleId());
        assertNull(stripped.getImage(), "the dead letter carries the sample without its image bytes");
        assertTrue(letter.value().length < 10_000, letter.value().length + " bytes");
    }

    @Test
    void jsonlSourceSendsGoodLinesAndDeadLettersBadOnes(@TempDir Path dir) throws Exception {
        byte[] png = new SyntheticWorld().generate(Domain.CLEAN, 1, 1).get(0).toPng();
        Files.createDirectories(dir.resolve("img"));
        Files.write(dir.resolve("img/a.png"), png);
        String bad = "{\"question\": \"how many squares\", \"answer\": ";
        String noAnswer = "{\"question\": \"how many squares\", \"image\": \"img/a.png\"}";
        write(dir, "vqa.jsonl", String.join("\n",
                "{\"question_id\": 101, \"image\": \"img/a.png\", \"question\": \"what color is the circle\", "
                        + "\"answer\": [\"red\", \"red\", \"dark red\"], \"category\": \"clean\"}",
                bad,
                "",
                "{\"image\": \"nope.png\", \"text\": \"is there a cube\", \"answer\": \"no\"}",
                noAnswer) + "\n");

        Setup s = Setup.fresh(Map.of("source", "jsonl", "jsonl.path", dir.resolve("vqa.jsonl").toString(),
                "source.name", "benchmark"));
        Ingest.Summary summary;
        try (Ingest ingest = new Ingest(s.config(), s.registry())) {
            summary = ingest.run();
        }
        assertEquals(2, summary.samplesSent());
        assertEquals(2, summary.deadLettered());

        AvroDeserializer<CalibrationSample> values = new AvroDeserializer<>(s.registry(), CalibrationSample.class);
        Map<String, CalibrationSample> samples = readAll(s.samples(), 2).stream()
                .peek(r -> assertEquals(values.deserialize(r.topic(), r.value()).getSampleId(),
                        new String(r.key(), StandardCharsets.UTF_8), "key = sample id"))
                .map(r -> values.deserialize(r.topic(), r.value()))
                .collect(Collectors.toMap(CalibrationSample::getSampleId, x -> x));
        CalibrationSample good = samples.get("101");
        assertNotNull(good, "integer question_id: " + samples.keySet());
        assertArrayEquals(png, bytes(good.getImage()));
        assertNull(good.getImageUri());
        assertEquals("what color is the circle", good.getPrompt());
        assertEquals("red", good.getAnswer());
        assertEquals("clean", good.getDomain());
        assertEquals("benchmark", good.getSource());
        CalibrationSample missing = samples.get("vqa-4");
        assertNotNull(missing, "id defaults to file name and line number: " + samples.keySet());
        assertNull(missing.getImage());
        assertEquals(dir.resolve("nope.png").toUri().toString(), missing.getImageUri());
        assertEquals("unknown", missing.getDomain());

        Map<String, ConsumerRecord<byte[], byte[]>> letters = readAll(s.dlq(), 2).stream()
                .collect(Collectors.toMap(r -> new String(r.key(), StandardCharsets.UTF_8), r -> r));
        ConsumerRecord<byte[], byte[]> letter = letters.get("vqa.jsonl:2");
        assertNotNull(letter, "keyed file name:line number: " + letters.keySet());
        assertArrayEquals(bad.getBytes(StandardCharsets.UTF_8), letter.value(), "the line as it was");
        assertEquals("malformed_input", DeadLetters.header(letter.headers(), DeadLetters.REASON));
        assertEquals("ingest", DeadLetters.header(letter.headers(), DeadLetters.STAGE));
        assertTrue(DeadLetters.header(letter.headers(), DeadLetters.MESSAGE).startsWith("vqa.jsonl:2: "),
                DeadLetters.header(letter.headers(), DeadLetters.MESSAGE));
        ConsumerRecord<byte[], byte[]> unanswered = letters.get("vqa.jsonl:5");
        assertArrayEquals(noAnswer.getBytes(StandardCharsets.UTF_8), unanswered.value());
        assertEquals("missing_answer", DeadLetters.header(unanswered.headers(), DeadLetters.REASON), "no answer at all");
    }

    @Test
    void jsonlFileThatCannotBeOpenedFailsAtStart(@TempDir Path dir) {
        Setup s = Setup.fresh(Map.of("source", "jsonl", "jsonl.path", dir.resolve("absent.jsonl").toString()));
        org.apache.kafka.common.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                org.apache.kafka.common.config.ConfigException.class, () -> new Ingest(s.config(), s.registry()));
        assertTrue(e.getMessage().contains("jsonl.path"), e.getMessage());
    }

    @Test
    void pacedRunStopsEarlyFromAnotherThread() throws Exception {
        double rate = 100;
        int watched = 30;
        Setup s = Setup.fresh(Map.of("synthetic.schedule", "clean:100", "rate", Double.toString(rate)));
        CountDownLatch enoughSent = new CountDownLatch(watched);
        List<Long> sentAt = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (Ingest ingest = new Ingest(s.config(), s.registry())) {
            CompletableFuture<Ingest.Summary> running = CompletableFuture.supplyAsync(() -> {
                try {
                    return ingest.run(sent -> {
                        sentAt.add(System.nanoTime());
                        enoughSent.countDown();
                    });
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(enoughSent.await(30, TimeUnit.SECONDS), watched + " samples within 30 s");
            ingest.stop();
            Ingest.Summary summary = running.get(30, TimeUnit.SECONDS);
            assertTrue(summary.stopped());
            assertTrue(summary.samplesSent() >= watched && summary.samplesSent() < 100, summary.toString());
            assertEquals(summary.samplesSent(), readAll(s.samples(), summary.samplesSent()).size());
            // 1 / rate apart, except that a stall (the first send fetches metadata) earns one sample of
            // credit; 50 ms of slack for a slow send on a busy machine.
            int last = watched - 1;
            double seconds = (sentAt.get(last) - sentAt.get(1)) / 1e9;
            double atLeast = (last - 2) / rate - 0.05;
            assertTrue(seconds >= atLeast, "samples 1 to " + last + " took " + seconds + " s, expected >= " + atLeast);
        }
    }

    /** Every record of {@code topic}, once its partitions hold {@code expected} records in all (polled with a deadline). */
    private static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, long expected) {
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long onBroker = consumer.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
            assertEquals(expected, onBroker, "records on " + topic);
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            assertEquals(expected, out.size(), "records read from " + topic);
            return out;
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static void write(Path dir, String name, String text) throws java.io.IOException {
        Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }
}
