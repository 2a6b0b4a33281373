package dev.qig.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.qig.attributor.Attributor;
import dev.qig.attributor.AttributorConfig;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.ingest.Ingest;
import dev.qig.ingest.IngestConfig;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.testing.TopicRecords;
import dev.qig.kafka.topics.Topics;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new operator's run, repeated: a folder of 14 bad samples (each a different way for a file, an
 * image or a text to be wrong) and two good ones, sent by {@code ingest} with {@code source=folder}
 * and read by an attributor, on a real broker. Every bad sample reaches the dead-letter topic once,
 * with its own reason, from the stage that can tell (ingest for what is not a sample, the attributor
 * for what its model cannot take); the good ones are attributed; the ingest goes on to the end.
 */
class BadFolderSamplesTest {

    @TempDir
    Path dir;

    @Test
    void fourteenOfFourteenBadFolderSamplesAreDeadLettered() throws Exception {
        List<VqaSample> world = new SyntheticWorld().generate(Domain.CLEAN, 2, 7);
        Files.createDirectories(dir.resolve("img"));
        for (int i = 0; i < world.size(); i++) {
            Files.write(dir.resolve("img/good-" + i + ".png"), world.get(i).toPng());
            sample("good-" + i, "img/good-" + i + ".png", world.get(i).question(), world.get(i).answer());
        }
        byte[] png = world.get(0).toPng();
        String question = world.get(0).question();
        String answer = world.get(0).answer();
        Map<String, String> expected = new TreeMap<>(); // file stem -> reason

        // What ingest refuses: not a sample.
        write("broken.json", "{\"image\": \"img/good-0.png\", \"prompt\": ".getBytes(StandardCharsets.UTF_8));
        expected.put("broken", "malformed_input");
        write("array.json", "[1, 2, 3]".getBytes(StandardCharsets.UTF_8));
        expected.put("array", "malformed_input");
        byte[] latin1 = ("{\"image\": \"img/good-0.png\", \"prompt\": \"qu\u00e9 color\", \"answer\": \"red\"}")
                .getBytes(StandardCharsets.ISO_8859_1);
        write("not-utf8.json", latin1);
        expected.put("not-utf8", "malformed_input");
        write("no-prompt.json", ("{\"image\": \"img/good-0.png\", \"answer\": \"" + answer + "\"}").getBytes(StandardCharsets.UTF_8));
        expected.put("no-prompt", "empty_prompt");
        write("no-answer.json", ("{\"image\": \"img/good-0.png\", \"prompt\": \"" + question + "\"}").getBytes(StandardCharsets.UTF_8));
        expected.put("no-answer", "missing_answer");
        Files.write(dir.resolve("img/huge.png"), noise(1100, 1100)); // over 3 MB: more than a record may hold
        sample("huge-image", "img/huge.png", question, answer);
        expected.put("huge-image", "oversize_image");

        // What the attributor refuses: a sample its model cannot take.
        sample("missing-image", "img/absent.png", question, answer);
        expected.put("missing-image", "missing_image");
        Files.writeString(dir.resolve("img/text.png"), "this is not a picture");
        sample("not-an-image", "img/text.png", question, answer);
        expected.put("not-an-image", "corrupt_image");
        Files.write(dir.resolve("img/truncated.png"), Arrays.copyOf(png, png.length / 2));
        sample("truncated-image", "img/truncated.png", question, answer);
        expected.put("truncated-image", "corrupt_image");
        Files.write(dir.resolve("img/bomb.png"), bomb());
        sample("decompression-bomb", "img/bomb.png", question, answer);
        expected.put("decompression-bomb", "oversize_image");
        sample("blank-prompt", "img/good-0.png", "   ", answer);
        expected.put("blank-prompt", "empty_prompt");
        sample("empty-answer", "img/good-0.png", question, "");
        expected.put("empty-answer", "empty_answer");
        sample("unknown-word", "img/good-0.png", "what is the magenta object ?", answer);
        expected.put("unknown-word", "unknown_word");
        sample("long-prompt", "img/good-0.png", "what ".repeat(600) + "?", answer);
        expected.put("long-prompt", "oversize_prompt");
        assertEquals(14, expected.size());

        String scope = "folder-" + java.util.UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Map<String, Object> common = new HashMap<>();
            common.put("bootstrap.servers", kafka.bootstrapServers());
            common.put("schema.registry.url", "mock://" + scope);
            common.put("metrics.port", -1);
            Map<String, Object> ingestProps = new HashMap<>(common);
            ingestProps.put(IngestConfig.SOURCE, "folder");
            ingestProps.put(IngestConfig.FOLDER_PATH, dir.toString());
            IngestConfig ingestConfig = new IngestConfig(ingestProps);
            Ingest.Summary sent;
            try (Ingest ingest = new Ingest(ingestConfig, registry)) {
                sent = ingest.run();
            }
            assertEquals(2 + 8, sent.samplesSent(), "the good ones and those only the attributor can judge");
            assertEquals(6, sent.deadLettered(), "what is not a sample");

            AttributorConfig config = new AttributorConfig(common);
            try (Attributor attributor = new Attributor(config, registry)) {
                attributor.start();
                List<ConsumerRecord<byte[], byte[]>> stats = TopicRecords.read(kafka.bootstrapServers(), config.topic(Topics.Topic.LAYER_STATS), 2);
                List<ConsumerRecord<byte[], byte[]>> letters = TopicRecords.read(kafka.bootstrapServers(), config.topic(Topics.Topic.DLQ), 14);
                assertEquals(2, stats.size(), "the good samples attributed");
                assertEquals(14, letters.size(), "each bad sample once");
                Map<String, String> reasons = new TreeMap<>();
                for (ConsumerRecord<byte[], byte[]> r : letters) {
                    String key = new String(r.key(), StandardCharsets.UTF_8).replaceAll("\\.json$", "");
                    String before = reasons.put(key, DeadLetters.header(r.headers(), DeadLetters.REASON));
                    assertEquals(null, before, key + " dead-lettered twice");
                }
                assertEquals(expected, reasons);
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    private void sample(String stem, String image, String prompt, String answer) throws Exception {
        String json = "{\"image\": \"" + image + "\", \"prompt\": \"" + prompt + "\", \"answer\": \"" + answer + "\"}";
        write(stem + ".json", json.getBytes(StandardCharsets.UTF_8));
    }

    private void write(String name, byte[] bytes) throws Exception {
        Files.write(dir.resolve(name), bytes);
    }

    /** Random pixels: a PNG that does not compress. */
    private static byte[] noise(int width, int height) throws Exception {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Random random = new Random(20);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    /** 25 million pixels in a few kilobytes. */
    private static byte[] bomb() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(5000, 5000, BufferedImage.TYPE_BYTE_BINARY), "png", out);
        return out.toByteArray();
    }
}
