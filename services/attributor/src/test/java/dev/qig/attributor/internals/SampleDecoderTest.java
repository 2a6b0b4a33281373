package dev.qig.attributor.internals;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.vqa.VqaModel;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.schemas.CalibrationSample;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.UUID;
import java.util.function.Supplier;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SampleDecoder on real Avro bytes (mock schema registry) and the shipped model: every reason it
 * rejects a sample for, with a message that names the sample (or, before the sample is read, what
 * was wrong), and the question the engine gets from an inline image, a file: URI and a resized image.
 */
class SampleDecoderTest {

    private static final String TOPIC = "samples";
    private static final int PROMPT_MAX_CHARS = 400;
    private static final int IMAGE_MAX_BYTES = 64 << 10;

    private static final String SCOPE = "decoder-" + UUID.randomUUID();
    private static NDManager manager;
    private static VqaModel model;
    private static SchemaRegistryClient registry;
    private static AvroSerializer<CalibrationSample> serializer;
    private static SampleDecoder decoder;
    private static VqaSample base;

    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() throws Exception {
        manager = NDManager.newBaseManager();
        model = Checkpoint.load(Checkpoint.SHIPPED, manager).vqa();
        registry = MockSchemaRegistry.scope(SCOPE);
        serializer = new AvroSerializer<>(registry);
        decoder = new SampleDecoder(new AvroDeserializer<>(registry, CalibrationSample.class), PROMPT_MAX_CHARS,
                IMAGE_MAX_BYTES);
        base = new SyntheticWorld().generate(Domain.CLEAN, 1, 5).get(0);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
        MockSchemaRegistry.drop(SCOPE);
    }

    // --- the record ---

    @Test
    void aRecordDecodesToTheSampleThatWasWritten() {
        CalibrationSample s = sample("s-1").build();
        assertEquals(s, decoder.record(TOPIC, serializer.serialize(TOPIC, s)));
    }

    @Test
    void bytesThatAreNotTheSampleRecordAreRejectedWithTheirReason() {
        byte[] valid = serializer.serialize(TOPIC, sample("s-1").build());
        rejected(RejectReason.NULL_VALUE, "without a value", () -> decoder.record(TOPIC, null));
        rejected(RejectReason.NOT_WIRE_FORMAT, null, () -> decoder.record(TOPIC, "hello".getBytes()));
        byte[] unknownId = valid.clone();
        unknownId[1] = 0;
        unknownId[2] = 0;
        unknownId[3] = 0x27;
        unknownId[4] = 0x0f;
        rejected(RejectReason.UNKNOWN_SCHEMA_ID, null, () -> decoder.record(TOPIC, unknownId));
        rejected(RejectReason.CORRUPT_AVRO, null, () -> decoder.record(TOPIC, Arrays.copyOf(valid, valid.length / 2)));
    }

    // --- the image bytes ---

    @Test
    void aSampleWithoutAReadableImageIsRejected() throws Exception {
        rejected(RejectReason.MISSING_IMAGE, "sample no-image", () -> decoder.imageBytes(sample("no-image").setImage(null).build()));
        String absent = tmp.resolve("absent.png").toUri().toString();
        rejected(RejectReason.MISSING_IMAGE, "sample absent: no image at " + absent,
                () -> decoder.imageBytes(sample("absent").setImage(null).setImageUri(absent).build()));
        rejected(RejectReason.MISSING_IMAGE, "sample http: image URI http://example.com/a.png: only file: URIs",
                () -> decoder.imageBytes(sample("http").setImage(null).setImageUri("http://example.com/a.png").build()));
        rejected(RejectReason.MISSING_IMAGE, "sample bad-uri: cannot read image",
                () -> decoder.imageBytes(sample("bad-uri").setImage(null).setImageUri("file:a b.png").build()));
        Path directory = Files.createDirectory(tmp.resolve("a-directory"));
        rejected(RejectReason.MISSING_IMAGE, "sample dir: no image at",
                () -> decoder.imageBytes(sample("dir").setImage(null).setImageUri(directory.toUri().toString()).build()));
    }

    @Test
    void anImageOverTheByteLimitIsRejectedInlineOrAsAFile() throws Exception {
        byte[] big = new byte[IMAGE_MAX_BYTES + 1];
        rejected(RejectReason.OVERSIZE_IMAGE, "sample big: image of " + big.length + " bytes exceeds the limit of " + IMAGE_MAX_BYTES,
                () -> decoder.imageBytes(sample("big").setImage(ByteBuffer.wrap(big)).build()));
        Path file = Files.write(tmp.resolve("big.png"), big);
        rejected(RejectReason.OVERSIZE_IMAGE, "sample big-file: image at " + file.toUri() + " exceeds " + IMAGE_MAX_BYTES + " bytes",
                () -> decoder.imageBytes(sample("big-file").setImage(null).setImageUri(file.toUri().toString()).build()));
        // At the limit: read.
        byte[] limit = new byte[IMAGE_MAX_BYTES];
        assertEquals(IMAGE_MAX_BYTES, decoder.imageBytes(sample("limit").setImage(ByteBuffer.wrap(limit)).build()).length);
    }

    // --- the question ---

    @Test
    void textTheModelCannotReadIsRejectedWithItsReasonAndTheSample() {
        rejectedQuestion(RejectReason.EMPTY_PROMPT, sample("blank").setPrompt("   "));
        rejectedQuestion(RejectReason.EMPTY_PROMPT, sample("marker-only").setPrompt("<image>"));
        rejectedQuestion(RejectReason.EMPTY_ANSWER, sample("no-answer").setAnswer(""));
        rejectedQuestion(RejectReason.OVERSIZE_PROMPT, sample("long-prompt").setPrompt("what ".repeat(100) + "?"));
        rejectedQuestion(RejectReason.OVERSIZE_PROMPT, sample("long-answer").setAnswer("red ".repeat(110).strip()));
        rejectedQuestion(RejectReason.OVERSIZE_PROMPT, sample("long-sequence")
                .setPrompt("is there a red circle ? ".repeat(14).strip()));
        rejectedQuestion(RejectReason.UNKNOWN_WORD, sample("magenta").setPrompt("what is the magenta object ?"));
        rejectedQuestion(RejectReason.UNKNOWN_WORD, sample("magenta-answer").setAnswer("magenta"));
        rejectedQuestion(RejectReason.INVALID_PROMPT, sample("bos").setPrompt("what is <bos> the red object ?"));
        rejectedQuestion(RejectReason.INVALID_PROMPT, sample("two-images").setPrompt("<image> what is <image> red ?"));
    }

    @Test
    void anImageTheModelCannotReadIsRejectedWithItsReasonAndTheSample() throws Exception {
        rejectedQuestion(RejectReason.CORRUPT_IMAGE, sample("not-png").setImage(ByteBuffer.wrap("not a png".getBytes())));
        byte[] png = base.toPng();
        rejectedQuestion(RejectReason.CORRUPT_IMAGE, sample("truncated-png").setImage(ByteBuffer.wrap(Arrays.copyOf(png, png.length / 2))));
        rejectedQuestion(RejectReason.OVERSIZE_IMAGE, sample("bomb").setImage(ByteBuffer.wrap(decompressionBomb())));
    }

    @Test
    void theTextIsCheckedBeforeTheImageIsDecoded() {
        rejectedQuestion(RejectReason.UNKNOWN_WORD, sample("both-bad").setPrompt("what is the magenta object ?")
                .setImage(ByteBuffer.wrap("not a png".getBytes())));
    }

    @Test
    void anInlineImageGivesTheSampleAsTheEngineReadsIt() {
        CalibrationSample s = sample("inline").build();
        VisualQuestion q = question(s);
        assertEquals("inline", q.id());
        assertEquals(base.question(), q.question());
        assertEquals(base.answer(), q.answer());
        int side = model.processor().imageSide();
        float[] image = q.image();
        assertEquals(3 * side * side, image.length, "the model's size");
        float[] original = base.image();
        assertEquals(original.length, image.length, "the synthetic image is at the model's size");
        for (int i = 0; i < image.length; i++) {
            assertEquals(original[i], image[i], 0.5f / 255 + 1e-6f, "pixel value " + i + " (8-bit PNG)");
        }
        // The encoding checked is the model's: the engine's prompt encodes.
        model.processor().encode(q.question(), q.answer(), model.model().config().visionTokens());
    }

    @Test
    void aFileUriImageGivesTheSameQuestionAsTheSameImageInline() throws Exception {
        Path file = Files.write(tmp.resolve("image.png"), base.toPng());
        CalibrationSample s = sample("file").setImage(null).setImageUri(file.toUri().toString()).build();
        VisualQuestion fromFile = question(s);
        assertArrayEquals(question(sample("inline").build()).image(), fromFile.image());
        assertEquals(base.question(), fromFile.question());
    }

    @Test
    void anImageOfAnotherSizeIsResizedToTheModels() throws Exception {
        float[] inline = question(sample("inline").build()).image();
        // Twice the side, each pixel a 2x2 block: area averaging gives back the original exactly.
        VisualQuestion doubled = question(sample("doubled").setImage(ByteBuffer.wrap(png(base.toImage(), 2, 2))).build());
        assertArrayEquals(inline, doubled.image());
        // 64 x 64, nearest neighbour (not a whole multiple): the model's size, close to the original.
        int side = model.processor().imageSide();
        VisualQuestion odd = question(sample("odd").setImage(ByteBuffer.wrap(pngNearest(base.toImage(), 64))).build());
        assertEquals(3 * side * side, odd.image().length);
        double meanError = 0;
        for (int i = 0; i < inline.length; i++) {
            meanError += Math.abs(inline[i] - odd.image()[i]) / inline.length;
        }
        assertTrue(meanError < 0.05, "mean difference " + meanError);
    }

    private static VisualQuestion question(CalibrationSample s) {
        return decoder.question(s, decoder.imageBytes(s), model);
    }

    private static void rejectedQuestion(RejectReason reason, CalibrationSample.Builder b) {
        CalibrationSample s = b.build();
        rejected(reason, "sample " + s.getSampleId(), () -> question(s));
    }

    /** The call is rejected for {@code reason}, with a message that contains {@code named} (when given). */
    private static void rejected(RejectReason reason, String named, Supplier<?> call) {
        RejectedRecordException e = assertThrows(RejectedRecordException.class, call::get);
        assertEquals(reason, e.reason(), e.getMessage());
        if (named != null) {
            assertTrue(e.getMessage().contains(named), "message names '" + named + "': " + e.getMessage());
        }
    }

    private static CalibrationSample.Builder sample(String id) {
        return Records.calibrationSample(base, id, "test", Instant.parse("2026-11-29T12:00:00Z"));
    }

    /** The image with each pixel as a {@code fx x fy} block. */
    private static byte[] png(BufferedImage small, int fx, int fy) throws Exception {
        BufferedImage big = new BufferedImage(small.getWidth() * fx, small.getHeight() * fy, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < big.getHeight(); y++) {
            for (int x = 0; x < big.getWidth(); x++) {
                big.setRGB(x, y, small.getRGB(x / fx, y / fy));
            }
        }
        return encode(big);
    }

    private static byte[] pngNearest(BufferedImage small, int side) throws Exception {
        BufferedImage big = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                big.setRGB(x, y, small.getRGB(x * small.getWidth() / side, y * small.getHeight() / side));
            }
        }
        return encode(big);
    }

    /** A valid PNG of 5000 x 5000 black pixels: a few kilobytes that would decode to 25 M pixels. */
    private static byte[] decompressionBomb() throws Exception {
        return encode(new BufferedImage(5000, 5000, BufferedImage.TYPE_BYTE_BINARY));
    }

    private static byte[] encode(BufferedImage image) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }
}
