package dev.qig.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.dlq.RejectReason;
import dev.qig.schemas.CalibrationSample;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonLinesSourceTest {

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-02T03:04:05.678901Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    // ---- helpers ----

    private Path file(String name, String... lines) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return f;
    }

    private static JsonLinesSource source(Path file) {
        return new JsonLinesSource(file, "bench", "qig-vqa-small", CLOCK);
    }

    /** Every item of the source, in order. */
    private static List<SampleSource.Item> all(Path file) {
        List<SampleSource.Item> out = new ArrayList<>();
        try (JsonLinesSource s = source(file)) {
            for (Optional<SampleSource.Item> next = s.next(); next.isPresent(); next = s.next()) {
                out.add(next.get());
            }
        }
        return out;
    }

    private static CalibrationSample sample(SampleSource.Item item) {
        return assertInstanceOf(SampleSource.Sample.class, item).value();
    }

    private static SampleSource.Rejected rejected(SampleSource.Item item) {
        return assertInstanceOf(SampleSource.Rejected.class, item);
    }

    private static String key(SampleSource.Rejected r) {
        return new String(r.key(), StandardCharsets.UTF_8);
    }

    private static String value(SampleSource.Rejected r) {
        return new String(r.value(), StandardCharsets.UTF_8);
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** A real 4x3 PNG, written with javax.imageio. */
    private static byte[] writePng(Path path) throws IOException {
        BufferedImage image = new BufferedImage(4, 3, BufferedImage.TYPE_INT_RGB);
        image.setRGB(1, 1, Color.RED.getRGB());
        image.setRGB(2, 0, Color.BLUE.getRGB());
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(image, "png", png), "a PNG writer is available");
        Files.createDirectories(path.getParent());
        Files.write(path, png.toByteArray());
        return png.toByteArray();
    }

    // ---- fields and aliases ----

    @Test
    void everyFieldWithItsOwnName() throws IOException {
        Path f = file("set.jsonl",
                "{\"id\": \"q-1\", \"prompt\": \"what color is the cube\", \"answer\": \"red\", \"domain\": \"shop\"}");
        List<SampleSource.Item> items = all(f);
        assertEquals(1, items.size());
        CalibrationSample s = sample(items.get(0));
        assertEquals("q-1", s.getSampleId());
        assertEquals("what color is the cube", s.getPrompt());
        assertEquals("red", s.getAnswer());
        assertEquals("shop", s.getDomain());
        assertEquals("bench", s.getSource());
        assertEquals("qig-vqa-small", s.getModel());
        assertEquals(Instant.parse("2026-01-02T03:04:05.678Z"), s.getEventTime(), "milliseconds, like the folder source");
        assertNull(s.getImage());
        assertNull(s.getImageUri());
    }

    @Test
    void benchmarkFieldNamesAreAliases() throws IOException {
        Path f = file("bench.jsonl",
                "{\"question_id\": \"a\", \"question\": \"is there a cat\", \"answer\": \"yes\", \"category\": \"animals\"}",
                "{\"question_id\": \"b\", \"text\": \"how many dogs\", \"answer\": \"2\", \"domain\": \"animals\"}",
                "{\"id\": \"c\", \"prompt\": \"what is on the table\", \"answer\": \"a cup\", \"category\": \"home\"}");
        List<CalibrationSample> samples = all(f).stream().map(JsonLinesSourceTest::sample).toList();
        assertEquals(List.of("a", "b", "c"), samples.stream().map(CalibrationSample::getSampleId).toList());
        assertEquals(List.of("is there a cat", "how many dogs", "what is on the table"),
                samples.stream().map(CalibrationSample::getPrompt).toList());
        assertEquals(List.of("yes", "2", "a cup"), samples.stream().map(CalibrationSample::getAnswer).toList());
        assertEquals(List.of("animals", "animals", "home"), samples.stream().map(CalibrationSample::getDomain).toList());
    }

    @Test
    void anArrayOfAnswersGivesItsFirst() throws IOException {
        Path f = file("vqav2.jsonl",
                "{\"question\": \"what sport\", \"answer\": [\"tennis\", \"tennis\", \"badminton\"]}",
                "{\"question\": \"one\", \"answer\": [\"only\"]}",
                "{\"question\": \"none\", \"answer\": []}",
                "{\"question\": \"mixed\", \"answer\": [\"yes\", 2]}",
                "{\"question\": \"objects\", \"answer\": [{\"answer\": \"yes\"}]}");
        List<SampleSource.Item> items = all(f);
        assertEquals(5, items.size());
        assertEquals("tennis", sample(items.get(0)).getAnswer());
        assertEquals("only", sample(items.get(1)).getAnswer());
        SampleSource.Rejected empty = rejected(items.get(2));
        assertEquals(RejectReason.EMPTY_ANSWER, empty.reason());
        assertTrue(empty.error().getMessage().startsWith("vqav2.jsonl:3: "), empty.error().getMessage());
        SampleSource.Rejected mixed = rejected(items.get(3));
        assertEquals(RejectReason.MALFORMED_INPUT, mixed.reason());
        assertTrue(mixed.error().getMessage().contains("number"), mixed.error().getMessage());
        assertEquals(RejectReason.MALFORMED_INPUT, rejected(items.get(4)).reason());
    }

    @Test
    void anIntegerQuestionIdIsTheSampleId() throws IOException {
        Path f = file("ids.jsonl",
                "{\"question_id\": 262148000, \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": -7, \"question\": \"q\", \"answer\": \"a\"}",
                "{\"question_id\": 12345678901234567890123, \"question\": \"q\", \"answer\": \"a\"}",
                "{\"question_id\": 1.5, \"question\": \"q\", \"answer\": \"a\"}",
                "{\"question_id\": true, \"question\": \"q\", \"answer\": \"a\"}");
        List<SampleSource.Item> items = all(f);
        assertEquals("262148000", sample(items.get(0)).getSampleId());
        assertEquals("-7", sample(items.get(1)).getSampleId());
        assertEquals("12345678901234567890123", sample(items.get(2)).getSampleId());
        for (int i = 3; i < 5; i++) {
            SampleSource.Rejected r = rejected(items.get(i));
            assertEquals(RejectReason.MALFORMED_INPUT, r.reason());
            assertTrue(r.error().getMessage().contains("\"question_id\" must be a string or an integer"),
                    r.error().getMessage());
        }
    }

    @Test
    void absentIdsAndDomainsHaveDefaultsWithTheLineNumber() throws IOException {
        Path f = file("my.set.jsonl",
                "{\"prompt\": \"p1\", \"answer\": \"a1\"}",
                "",
                "{\"prompt\": \"p3\", \"answer\": \"a3\", \"id\": \"  \", \"domain\": \"\"}",
                "{\"prompt\": \"p4\", \"answer\": \"a4\", \"id\": null, \"category\": null}");
        List<CalibrationSample> samples = all(f).stream().map(JsonLinesSourceTest::sample).toList();
        assertEquals(List.of("my.set-1", "my.set-3", "my.set-4"),
                samples.stream().map(CalibrationSample::getSampleId).toList(),
                "file name without its extension, then the line number; blank lines count");
        samples.forEach(s -> assertEquals(FolderSource.DEFAULT_DOMAIN, s.getDomain()));
        assertEquals("unknown", FolderSource.DEFAULT_DOMAIN);
    }

    @Test
    void blankLinesAreSkipped() throws IOException {
        Path f = dir.resolve("blank.jsonl");
        // CRLF endings, white-space-only lines, a byte order mark and no newline at the end.
        Files.write(f, ("\uFEFF{\"prompt\": \"p1\", \"answer\": \"a1\"}\r\n"
                + "\r\n"
                + "   \t \n"
                + "\n"
                + "{\"prompt\": \"p5\", \"answer\": \"a5\"}\r\n"
                + "\n\n"
                + "{\"prompt\": \"p8\", \"answer\": \"a8\"}").getBytes(StandardCharsets.UTF_8));
        List<CalibrationSample> samples = all(f).stream().map(JsonLinesSourceTest::sample).toList();
        assertEquals(List.of("blank-1", "blank-5", "blank-8"), samples.stream().map(CalibrationSample::getSampleId).toList());
        assertEquals(List.of("a1", "a5", "a8"), samples.stream().map(CalibrationSample::getAnswer).toList());

        Path onlyBlank = dir.resolve("only-blank.jsonl");
        Files.writeString(onlyBlank, "\n \n\t\n");
        assertEquals(List.of(), all(onlyBlank));
        Path empty = dir.resolve("empty.jsonl");
        Files.write(empty, new byte[0]);
        assertEquals(List.of(), all(empty));
    }

    // ---- bad lines ----

    @Test
    void aBadLineIsRejectedAndTheStreamGoesOn() throws IOException {
        String broken = "{\"prompt\": \"what\", \"answer\": ";
        String array = "[\"prompt\", \"answer\"]";
        String noPrompt = "{\"answer\": \"red\"}";
        String noAnswer = "{\"question\": \"what color\"}";
        String wrongType = "{\"prompt\": 7, \"answer\": \"red\"}";
        String trailing = "{\"prompt\": \"p\", \"answer\": \"a\"} {}";
        String repeatedKey = "{\"prompt\": \"p\", \"prompt\": \"q\", \"answer\": \"a\"}";
        Path f = file("mixed.jsonl",
                "{\"id\": \"first\", \"prompt\": \"p\", \"answer\": \"a\"}",
                broken,
                "",
                array,
                noPrompt,
                noAnswer,
                wrongType,
                trailing,
                repeatedKey,
                "{\"id\": \"after\", \"prompt\": \"p\", \"answer\": \"a\"}",
                "{\"prompt\": \"p\", \"answer\": \"a\"}");
        List<SampleSource.Item> items = all(f);
        assertEquals(10, items.size(), "blank line 3 skipped");
        assertEquals("first", sample(items.get(0)).getSampleId());

        record Expected(int line, String value, RejectReason reason, String inMessage) {
        }
        List<Expected> expected = List.of(
                new Expected(2, broken, RejectReason.MALFORMED_INPUT, "not JSON"),
                new Expected(4, array, RejectReason.MALFORMED_INPUT, "not a JSON object"),
                new Expected(5, noPrompt, RejectReason.EMPTY_PROMPT, "no \"prompt\""),
                new Expected(6, noAnswer, RejectReason.MISSING_ANSWER, "no \"answer\""),
                new Expected(7, wrongType, RejectReason.MALFORMED_INPUT, "\"prompt\" must be a string, is number"),
                new Expected(8, trailing, RejectReason.MALFORMED_INPUT, "not JSON"),
                new Expected(9, repeatedKey, RejectReason.MALFORMED_INPUT, "not JSON"));
        for (int i = 0; i < expected.size(); i++) {
            Expected e = expected.get(i);
            SampleSource.Rejected r = rejected(items.get(i + 1));
            assertEquals("mixed.jsonl:" + e.line(), key(r));
            assertEquals(e.value(), value(r), "the line as it was");
            assertEquals(e.reason(), r.reason(), key(r));
            String message = r.error().getMessage();
            assertTrue(message.startsWith("mixed.jsonl:" + e.line() + ": "), "line number in the message: " + message);
            assertTrue(message.contains(e.inMessage()), message);
        }
        assertEquals("after", sample(items.get(8)).getSampleId());
        assertEquals("mixed-11", sample(items.get(9)).getSampleId());
    }

    @Test
    void twoNamesOfOneFieldAreAMalformedLine() throws IOException {
        Path f = file("dup.jsonl",
                "{\"prompt\": \"p\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"question\": \"q\", \"text\": \"t\", \"answer\": \"a\"}",
                "{\"prompt\": \"p\", \"answer\": \"a\", \"id\": \"x\", \"question_id\": 3}",
                "{\"prompt\": \"p\", \"answer\": \"a\", \"domain\": \"d\", \"category\": \"c\"}",
                "{\"prompt\": \"p\", \"question\": null, \"answer\": \"a\", \"id\": \"ok\"}");
        List<SampleSource.Item> items = all(f);
        assertEquals(5, items.size());
        List<List<String>> named = List.of(List.of("prompt", "question"), List.of("question", "text"),
                List.of("id", "question_id"), List.of("domain", "category"));
        for (int i = 0; i < named.size(); i++) {
            SampleSource.Rejected r = rejected(items.get(i));
            assertEquals(RejectReason.MALFORMED_INPUT, r.reason());
            assertEquals("dup.jsonl:" + (i + 1), key(r));
            String message = r.error().getMessage();
            assertTrue(message.startsWith("dup.jsonl:" + (i + 1) + ": "), message);
            for (String field : named.get(i)) {
                assertTrue(message.contains("\"" + field + "\""), message);
            }
        }
        assertEquals("ok", sample(items.get(4)).getSampleId(), "a null alias counts as absent");
    }

    @Test
    void aLineThatIsNotUtf8IsABadLineNotTheEnd() throws IOException {
        Path f = dir.resolve("latin1.jsonl");
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        content.write("{\"prompt\": \"caf".getBytes(StandardCharsets.US_ASCII));
        content.write(0xE9); // é in ISO-8859-1: not UTF-8
        content.write("\", \"answer\": \"a\"}\n{\"prompt\": \"caf\u00e9\", \"answer\": \"b\"}\n".getBytes(StandardCharsets.UTF_8));
        Files.write(f, content.toByteArray());
        List<SampleSource.Item> items = all(f);
        SampleSource.Rejected r = rejected(items.get(0));
        assertEquals(RejectReason.MALFORMED_INPUT, r.reason());
        assertEquals("latin1.jsonl:1", key(r));
        byte[] firstLine = java.util.Arrays.copyOf(content.toByteArray(), r.value().length);
        assertArrayEquals(firstLine, r.value(), "the original bytes");
        assertEquals("caf\u00e9", sample(items.get(1)).getPrompt());
    }

    // ---- images ----

    @Test
    void imagePathsAreRelativeToTheFilesFolderUnlessAbsolute(@TempDir Path elsewhere) throws IOException {
        Path sets = dir.resolve("sets");
        byte[] relative = writePng(sets.resolve("img/a.png"));
        byte[] absolute = writePng(elsewhere.resolve("b.png"));
        Path f = sets.resolve("vqa.jsonl");
        Files.writeString(f, String.join("\n",
                "{\"id\": \"rel\", \"image\": \"img/a.png\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": \"abs\", \"image\": \"" + elsewhere.resolve("b.png").toAbsolutePath() + "\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": \"up\", \"image\": \"../sets/img/./a.png\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": \"missing\", \"image\": \"img/nope.png\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": \"none\", \"image\": \"\", \"question\": \"q\", \"answer\": \"a\"}",
                "{\"id\": \"bad-type\", \"image\": 3, \"question\": \"q\", \"answer\": \"a\"}"));
        assertTrue(ImageIO.read(sets.resolve("img/a.png").toFile()) != null, "a real PNG");
        List<SampleSource.Item> items = all(f);
        assertEquals(6, items.size());

        CalibrationSample rel = sample(items.get(0));
        assertArrayEquals(relative, bytes(rel.getImage()));
        assertNull(rel.getImageUri());
        CalibrationSample abs = sample(items.get(1));
        assertArrayEquals(absolute, bytes(abs.getImage()));
        assertNull(abs.getImageUri());
        assertArrayEquals(relative, bytes(sample(items.get(2)).getImage()));

        CalibrationSample missing = sample(items.get(3));
        assertNull(missing.getImage(), "ingest does not judge images: the attributor reports them");
        assertEquals(sets.resolve("img/nope.png").toAbsolutePath().normalize().toUri().toString(), missing.getImageUri());
        assertTrue(missing.getImageUri().startsWith("file:"));

        CalibrationSample none = sample(items.get(4));
        assertNull(none.getImage());
        assertNull(none.getImageUri());

        SampleSource.Rejected badType = rejected(items.get(5));
        assertEquals(RejectReason.MALFORMED_INPUT, badType.reason());
        assertTrue(badType.error().getMessage().contains("\"image\" must be a string"), badType.error().getMessage());
    }

    @Test
    void aRelativeFilePathResolvesImagesNextToTheFile() throws IOException {
        byte[] png = writePng(dir.resolve("img/a.png"));
        Path f = file("rel.jsonl", "{\"image\": \"img/a.png\", \"question\": \"q\", \"answer\": \"a\"}");
        Path relativeFile = Path.of("").toAbsolutePath().relativize(f);
        List<SampleSource.Item> items = new ArrayList<>();
        try (JsonLinesSource s = source(relativeFile)) {
            s.next().ifPresent(items::add);
            assertTrue(s.next().isEmpty());
        }
        assertArrayEquals(png, bytes(sample(items.get(0)).getImage()));
    }

    // ---- the file ----

    @Test
    void aFileThatCannotBeOpenedIsAConfigError() throws IOException {
        ConfigException missing = assertThrows(ConfigException.class, () -> source(dir.resolve("nope.jsonl")));
        assertTrue(missing.getMessage().contains(IngestConfig.JSONL_PATH), missing.getMessage());
        ConfigException folder = assertThrows(ConfigException.class, () -> source(dir));
        assertTrue(folder.getMessage().contains(IngestConfig.JSONL_PATH), folder.getMessage());
    }

    @Test
    void aLongFileIsStreamedLineByLine() throws IOException {
        int lines = 100_000;
        Path f = dir.resolve("long.jsonl");
        try (Writer w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
            for (int i = 1; i <= lines; i++) {
                w.write("{\"question_id\": " + i + ", \"question\": \"question " + i + "\", \"answer\": [\"a" + i
                        + "\", \"b\"]}\n");
            }
        }
        long count = 0;
        try (JsonLinesSource s = source(f)) {
            for (Optional<SampleSource.Item> next = s.next(); next.isPresent(); next = s.next()) {
                count++;
                CalibrationSample sample = sample(next.get());
                assertEquals(Long.toString(count), sample.getSampleId());
                assertEquals("a" + count, sample.getAnswer());
            }
        }
        assertEquals(lines, count);
    }

    @Test
    void aLineLongerThanTheReadBufferIsOneLine() throws IOException {
        String prompt = "x".repeat(200_000);
        Path f = file("wide.jsonl",
                "{\"prompt\": \"" + prompt + "\", \"answer\": \"a\"}",
                "{\"prompt\": \"short\", \"answer\": \"b\"}");
        List<CalibrationSample> samples = all(f).stream().map(JsonLinesSourceTest::sample).toList();
        assertEquals(2, samples.size());
        assertEquals(prompt, samples.get(0).getPrompt());
        assertEquals("wide-2", samples.get(1).getSampleId());
    }

    @Test
    void closeEndsTheStream() throws IOException {
        Path f = file("c.jsonl", "{\"prompt\": \"p\", \"answer\": \"a\"}", "{\"prompt\": \"p\", \"answer\": \"b\"}");
        JsonLinesSource s = source(f);
        assertNotNull(sample(s.next().orElseThrow()));
        s.close();
        assertTrue(s.next().isEmpty());
        s.close(); // twice is fine
        JsonLinesSource exhausted = source(f);
        assertEquals(2, java.util.stream.Stream.generate(exhausted::next).limit(2).filter(Optional::isPresent).count());
        assertTrue(exhausted.next().isEmpty());
        assertTrue(exhausted.next().isEmpty(), "stays exhausted");
        exhausted.close();
    }

    @Test
    void theConfiguredSourceIsThisOne() throws IOException {
        Path f = file("conf.jsonl", "{\"question\": \"q\", \"answer\": \"a\"}");
        IngestConfig config = new IngestConfig(java.util.Map.of("bootstrap.servers", "localhost:9092",
                "schema.registry.url", "mock://jsonl-source-test", IngestConfig.SOURCE, "jsonl",
                IngestConfig.JSONL_PATH, f.toString(), IngestConfig.SOURCE_NAME, "benchmark"));
        try (SampleSource s = SampleSource.of(config)) {
            assertInstanceOf(JsonLinesSource.class, s);
            CalibrationSample sample = sample(s.next().orElseThrow());
            assertEquals("conf-1", sample.getSampleId());
            assertEquals("benchmark", sample.getSource());
            assertNull(sample.getModel());
        }
    }
}
