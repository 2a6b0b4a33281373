package dev.qig.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.schemas.CalibrationSample;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
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
 * of the wrong type, or no prompt or answer. The parsing and these rules are {@link SampleJson}'s,
 * shared with {@link JsonLinesSource}.
 */
final class FolderSource implements SampleSource {

    /** The domain tag of a file that names none. */
    static final String DEFAULT_DOMAIN = SampleJson.DEFAULT_DOMAIN;

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
        return SampleJson.item(key, raw, bytes -> {
            JsonNode root = SampleJson.object(bytes, name);
            String prompt = SampleJson.text(root, "prompt", name, RejectReason.EMPTY_PROMPT);
            String answer = SampleJson.text(root, "answer", name, RejectReason.MISSING_ANSWER);
            String domain = SampleJson.optionalText(root, "domain", name);
            String id = SampleJson.optionalText(root, "id", name);
            String image = SampleJson.optionalText(root, "image", name);
            return SampleJson.sample(id, SampleJson.stripExtension(name), prompt, answer, domain, image, folder, name,
                    sourceName, model, clock);
        });
    }
}
