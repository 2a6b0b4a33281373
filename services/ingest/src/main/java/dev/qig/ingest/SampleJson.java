package dev.qig.ingest;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.schemas.CalibrationSample;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/**
 * What the file sources ({@link FolderSource}, {@link JsonLinesSource}) share: one JSON object of a
 * sample to a {@link CalibrationSample}, and the rules for what is rejected. A record is rejected
 * only when it cannot be a sample at all: not JSON, not an object, a field of the wrong type, or no
 * prompt or answer. An image file that cannot be read still gives a sample: no bytes, and its
 * {@code file:} URI in {@code imageUri}, for the attributor to report.
 *
 * <p>Messages start with {@code where}, the record's name in the source (a file name, or a file name
 * and line number).
 */
final class SampleJson {

    /** The domain tag of a record that names none. */
    static final String DEFAULT_DOMAIN = "unknown";

    // Strict: trailing garbage or a repeated key means the record is not what its author meant.
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private SampleJson() {}

    /** Reads one record's bytes into a sample; throws {@link RejectedRecordException} for what cannot be one. */
    @FunctionalInterface
    interface Reader {
        /** @throws IOException when {@code raw} is not JSON (Jackson's parse exceptions are IOExceptions) */
        CalibrationSample read(byte[] raw) throws IOException;
    }

    /**
     * The item of one record: the sample {@code reader} makes of {@code raw}, or a {@link SampleSource.Rejected}
     * with {@code key} and {@code raw} and the reason of a {@link RejectedRecordException}
     * ({@link RejectReason#MALFORMED_INPUT} for input that is not JSON).
     */
    static SampleSource.Item item(byte[] key, byte[] raw, Reader reader) {
        try {
            return new SampleSource.Sample(reader.read(raw));
        } catch (RejectedRecordException e) {
            return new SampleSource.Rejected(key, raw, e.reason(), e);
        } catch (IOException e) { // not JSON
            return new SampleSource.Rejected(key, raw, RejectReason.MALFORMED_INPUT, e);
        }
    }

    /** {@code raw} as a JSON object; anything else but JSON is a {@link RejectReason#MALFORMED_INPUT}. */
    static JsonNode object(byte[] raw, String where) throws IOException {
        JsonNode root = JSON.readTree(raw);
        if (root == null || !root.isObject()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": not a JSON object");
        }
        return root;
    }

    /** A field that must be present as text; absent or null is {@code missing}, another type a malformed record. */
    static String text(JsonNode root, String field, String where, RejectReason missing) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            throw new RejectedRecordException(missing, where + ": no \"" + field + "\"");
        }
        if (!node.isTextual()) {
            throw wrongType(field, node, "a string", where);
        }
        return node.textValue();
    }

    /** A field that may be absent or null (then null), else text. */
    static String optionalText(JsonNode root, String field, String where) {
        JsonNode node = root.get(field);
        return node == null || node.isNull() ? null : text(root, field, where, RejectReason.MALFORMED_INPUT);
    }

    /** {@code "field" must be <expected>, is <type>}: a malformed record. */
    static RejectedRecordException wrongType(String field, JsonNode node, String expected, String where) {
        return new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": \"" + field + "\" must be "
                + expected + ", is " + node.getNodeType().name().toLowerCase(Locale.ROOT));
    }

    /**
     * The sample of a record's fields. A null or blank {@code id} is {@code defaultId}, a null or blank
     * {@code domain} is {@value #DEFAULT_DOMAIN}; a null or blank {@code image} is no image, else a path
     * relative to {@code folder} unless absolute.
     */
    static CalibrationSample sample(String id, String defaultId, String prompt, String answer, String domain,
            String image, Path folder, String where, String sourceName, String model, Clock clock) {
        CalibrationSample.Builder sample = CalibrationSample.newBuilder()
                .setSampleId(id == null || id.isBlank() ? defaultId : id)
                .setImage(null)
                .setImageUri(null)
                .setPrompt(prompt)
                .setAnswer(answer)
                .setDomain(domain == null || domain.isBlank() ? DEFAULT_DOMAIN : domain)
                .setSource(sourceName)
                .setEventTime(clock.instant().truncatedTo(ChronoUnit.MILLIS))
                .setModel(model);
        if (image != null && !image.isBlank()) {
            attachImage(sample, resolve(folder, image, where));
        }
        return sample.build();
    }

    private static Path resolve(Path folder, String image, String where) {
        try {
            Path p = Path.of(image);
            return (p.isAbsolute() ? p : folder.resolve(p)).normalize();
        } catch (InvalidPathException e) {
            throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": image '" + image
                    + "' is not a valid path", e);
        }
    }

    /** Inline bytes when the file is readable; else only its URI, for the attributor to report. */
    private static void attachImage(CalibrationSample.Builder sample, Path image) {
        try {
            sample.setImage(ByteBuffer.wrap(Files.readAllBytes(image)));
        } catch (IOException e) {
            sample.setImageUri(image.toUri().toString());
        }
    }

    /** {@code name} without its last extension: {@code a.json} is {@code a}; a leading dot is part of the name. */
    static String stripExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
