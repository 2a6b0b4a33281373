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
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.kafka.common.config.ConfigException;

/**
 * Samples described by the {@code *.json} files of a folder, in file-name order (the listing is
 * taken when the source is built). Each file is
 * {@code {"image": path, "prompt": ..., "answer": ..., "domain": ..., "id": optional}}.
 *
 * <p>Ingest forwards content without judging it (the attributor validates prompts and images and
 * dead-letters what it cannot use, with the precise reason), so an image file that cannot be read
 * still gives a sample: no bytes, and its {@code file:} URI in {@code imageUri}. Only a file that
 * cannot be a {@link CalibrationSample} at all is rejected here: not JSON, not an object, a field
 * of the wrong type, or no prompt or answer.
 */
final class FolderSource implements SampleSource {

    /** The domain tag of a file that names none. */
    static final String DEFAULT_DOMAIN = "unknown";

    // Strict: trailing garbage or a repeated key means the file is not what its author meant.
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final Path folder;
    private final String sourceName;
    private final String model;
    private final Clock clock;
    private final Iterator<Path> files;

    FolderSource(Path folder, String sourceName, String model, Clock clock) {
        this.folder = folder.toAbsolutePath().normalize();
        this.sourceName = sourceName;
        this.model = model;
        this.clock = clock;
        this.files = list(this.folder).iterator();
    }

    private static List<Path> list(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new ConfigException(IngestConfig.FOLDER_PATH, folder.toString(), "not a directory");
        }
        try (Stream<Path> entries = Files.list(folder)) {
            return entries
                    .filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"))
                    .filter(Files::isRegularFile)
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the sample folder " + folder, e);
        }
    }

    @Override
    public Optional<Item> next() {
        if (!files.hasNext()) {
            return Optional.empty();
        }
        return Optional.of(read(files.next()));
    }

    private Item read(Path file) {
        String name = file.getFileName().toString();
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            return new Rejected(key, null, RejectReason.MALFORMED_INPUT, e);
        }
        try {
            JsonNode root = JSON.readTree(raw);
            if (root == null || !root.isObject()) {
                throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, name + ": not a JSON object");
            }
            String prompt = text(root, "prompt", name, RejectReason.EMPTY_PROMPT);
            String answer = text(root, "answer", name, RejectReason.EMPTY_ANSWER);
            String domain = optionalText(root, "domain", name);
            String id = optionalText(root, "id", name);
            String image = optionalText(root, "image", name);
            CalibrationSample.Builder sample = CalibrationSample.newBuilder()
                    .setSampleId(id == null || id.isBlank() ? stripExtension(name) : id)
                    .setImage(null)
                    .setImageUri(null)
                    .setPrompt(prompt)
                    .setAnswer(answer)
                    .setDomain(domain == null || domain.isBlank() ? DEFAULT_DOMAIN : domain)
                    .setSource(sourceName)
                    .setEventTime(clock.instant().truncatedTo(ChronoUnit.MILLIS))
                    .setModel(model);
            if (image != null && !image.isBlank()) {
                attachImage(sample, resolve(image, name));
            }
            return new Sample(sample.build());
        } catch (RejectedRecordException e) {
            return new Rejected(key, raw, e.reason(), e);
        } catch (IOException e) { // not JSON (Jackson's parse exceptions are IOExceptions)
            return new Rejected(key, raw, RejectReason.MALFORMED_INPUT, e);
        }
    }

    private Path resolve(String image, String name) {
        try {
            Path p = Path.of(image);
            return (p.isAbsolute() ? p : folder.resolve(p)).normalize();
        } catch (InvalidPathException e) {
            throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, name + ": image '" + image
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

    /** A field that must be present as text; absent or null is {@code missing}, another type a malformed file. */
    private static String text(JsonNode root, String field, String name, RejectReason missing) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            throw new RejectedRecordException(missing, name + ": no \"" + field + "\"");
        }
        if (!node.isTextual()) {
            throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, name + ": \"" + field
                    + "\" must be a string, is " + node.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        return node.textValue();
    }

    private static String optionalText(JsonNode root, String field, String name) {
        JsonNode node = root.get(field);
        return node == null || node.isNull() ? null : text(root, field, name, RejectReason.MALFORMED_INPUT);
    }

    private static String stripExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
