package dev.qig.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.schemas.CalibrationSample;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.apache.kafka.common.config.ConfigException;

/**
 * Samples from a JSON-lines file, the way VQA benchmarks ship a labelled set: one JSON object per
 * line, in file order. The file is read as it is streamed, one line at a time (a benchmark file of
 * 100k lines is never held in memory). Blank lines are skipped; line numbers count every line from 1.
 *
 * <p>A line is {@code {"image": path, "prompt": ..., "answer": ..., "domain": ..., "id": ...}}, with
 * the field names of common benchmark files accepted as aliases:
 * <ul>
 *   <li>prompt: {@code prompt}, {@code question} or {@code text};</li>
 *   <li>answer: {@code answer}, a string, or an array of strings (several reference answers, as in
 *       VQAv2) of which the first is taken;</li>
 *   <li>id: {@code id} or {@code question_id}, a string or an integer; absent or blank:
 *       {@code <file name without extension>-<line number>};</li>
 *   <li>domain: {@code domain} or {@code category}; absent: {@value SampleJson#DEFAULT_DOMAIN};</li>
 *   <li>image: {@code image}, a path relative to the file's folder unless absolute.</li>
 * </ul>
 * Two aliases of one field in one line (both not null) make the line malformed. Unknown fields are
 * ignored.
 *
 * <p>Per line, the rules are {@link FolderSource}'s ({@link SampleJson}): an image that cannot be read
 * still gives a sample (its {@code file:} URI in {@code imageUri}); a line that cannot be a
 * {@link CalibrationSample} (not JSON, not an object, a field of the wrong type, no prompt or answer)
 * is a {@link SampleSource.Rejected} keyed {@code <file name>:<line number>}, with the line's bytes
 * as they were and the line number in its message, and the stream goes on with the next line.
 */
final class JsonLinesSource implements SampleSource {

    private static final int CHUNK = 64 * 1024;

    private final Path file;
    private final Path folder;
    private final String fileName;
    private final String stem;
    private final String sourceName;
    private final String model;
    private final Clock clock;
    private final InputStream in;
    private final byte[] chunk = new byte[CHUNK];
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private int pos;
    private int limit;
    private boolean eof;
    private boolean closed;
    private long lineNumber;

    /**
     * Opens {@code file}; reading starts at the first {@link #next}.
     *
     * @throws ConfigException naming {@value IngestConfig#JSONL_PATH} when the file is not a regular file or cannot be opened
     */
    JsonLinesSource(Path file, String sourceName, String model, Clock clock) {
        this.file = file.toAbsolutePath().normalize();
        this.sourceName = sourceName;
        this.model = model;
        this.clock = clock;
        if (!Files.isRegularFile(this.file)) {
            throw new ConfigException(IngestConfig.JSONL_PATH, this.file.toString(), "not a file");
        }
        try {
            this.in = Files.newInputStream(this.file);
        } catch (IOException e) {
            throw new ConfigException(IngestConfig.JSONL_PATH, this.file.toString(), "cannot be opened: " + e);
        }
        this.folder = this.file.getParent();
        this.fileName = this.file.getFileName().toString();
        this.stem = SampleJson.stripExtension(fileName);
    }

    @Override
    public Optional<Item> next() {
        while (!closed) {
            byte[] bytes;
            try {
                bytes = readLine();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + " after line " + lineNumber, e);
            }
            if (bytes == null) {
                close();
                break;
            }
            lineNumber++;
            if (lineNumber == 1) {
                bytes = withoutByteOrderMark(bytes);
            }
            if (!isBlank(bytes)) {
                return Optional.of(read(bytes, lineNumber));
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            in.close();
        } catch (IOException e) {
            // Only read from: nothing is lost.
        }
    }

    private Item read(byte[] raw, long number) {
        String where = fileName + ":" + number;
        byte[] key = where.getBytes(StandardCharsets.UTF_8);
        return SampleJson.item(key, raw, bytes -> {
            JsonNode root;
            try {
                root = SampleJson.object(bytes, where);
            } catch (IOException e) { // not JSON; Jackson's location would count lines within the line
                String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
                throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": not JSON: " + why, e);
            }
            String promptField = alias(root, where, "prompt", "question", "text");
            if (promptField == null) {
                throw new RejectedRecordException(RejectReason.EMPTY_PROMPT, where
                        + ": no \"prompt\" (nor \"question\" or \"text\")");
            }
            String prompt = SampleJson.text(root, promptField, where, RejectReason.EMPTY_PROMPT);
            String answer = answer(root, where);
            String domainField = alias(root, where, "domain", "category");
            String domain = domainField == null ? null : SampleJson.optionalText(root, domainField, where);
            String id = id(root, where);
            String image = SampleJson.optionalText(root, "image", where);
            return SampleJson.sample(id, stem + "-" + number, prompt, answer, domain, image, folder, where,
                    sourceName, model, clock);
        });
    }

    /** The one of {@code names} the line has (not null), null for none; two or more make the line malformed. */
    private static String alias(JsonNode root, String where, String... names) {
        List<String> present = new ArrayList<>(1);
        for (String name : names) {
            JsonNode node = root.get(name);
            if (node != null && !node.isNull()) {
                present.add(name);
            }
        }
        if (present.size() > 1) {
            throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": \"" + String.join("\" and \"", present)
                    + "\" are the same field; give one");
        }
        return present.isEmpty() ? null : present.get(0);
    }

    /** A string, or the first of an array of strings. */
    private static String answer(JsonNode root, String where) {
        JsonNode node = root.get("answer");
        if (node == null || node.isNull()) {
            throw new RejectedRecordException(RejectReason.MISSING_ANSWER, where + ": no \"answer\"");
        }
        if (node.isTextual()) {
            return node.textValue();
        }
        if (!node.isArray()) {
            throw SampleJson.wrongType("answer", node, "a string or an array of strings", where);
        }
        if (node.isEmpty()) {
            throw new RejectedRecordException(RejectReason.EMPTY_ANSWER, where + ": \"answer\" is an empty array");
        }
        for (JsonNode element : node) {
            if (!element.isTextual()) {
                throw new RejectedRecordException(RejectReason.MALFORMED_INPUT, where + ": \"answer\" must be a string "
                        + "or an array of strings, has an element that is "
                        + element.getNodeType().name().toLowerCase(Locale.ROOT));
            }
        }
        return node.get(0).textValue();
    }

    /** {@code id} or {@code question_id}, a string or an integer; null when absent. */
    private static String id(JsonNode root, String where) {
        String field = alias(root, where, "id", "question_id");
        if (field == null) {
            return null;
        }
        JsonNode node = root.get(field);
        if (node.isTextual()) {
            return node.textValue();
        }
        if (node.isIntegralNumber()) {
            return node.asText();
        }
        throw SampleJson.wrongType(field, node, "a string or an integer", where);
    }

    /**
     * The next line's bytes without its terminator ({@code \n} or {@code \r\n}), or null at the end of
     * the file. Bytes, not characters: a line goes to the dead-letter topic exactly as it was, and
     * one that is not UTF-8 is a bad line, not the end of the stream.
     */
    private byte[] readLine() throws IOException {
        line.reset();
        boolean any = false;
        while (true) {
            if (pos == limit) {
                if (eof) {
                    break;
                }
                int n = in.read(chunk);
                if (n < 0) {
                    eof = true;
                    break;
                }
                pos = 0;
                limit = n;
            }
            any = true;
            int start = pos;
            while (pos < limit && chunk[pos] != '\n') {
                pos++;
            }
            line.write(chunk, start, pos - start);
            if (pos < limit) { // at the terminator
                pos++;
                return withoutCarriageReturn(line.toByteArray());
            }
        }
        return any ? withoutCarriageReturn(line.toByteArray()) : null;
    }

    private static byte[] withoutCarriageReturn(byte[] bytes) {
        int n = bytes.length;
        return n > 0 && bytes[n - 1] == '\r' ? Arrays.copyOf(bytes, n - 1) : bytes;
    }

    private static byte[] withoutByteOrderMark(byte[] bytes) {
        boolean bom = bytes.length >= 3 && (bytes[0] & 0xFF) == 0xEF && (bytes[1] & 0xFF) == 0xBB
                && (bytes[2] & 0xFF) == 0xBF;
        return bom ? Arrays.copyOfRange(bytes, 3, bytes.length) : bytes;
    }

    /** Empty or JSON white space only. */
    private static boolean isBlank(byte[] bytes) {
        for (byte b : bytes) {
            if (b != ' ' && b != '\t' && b != '\r') {
                return false;
            }
        }
        return true;
    }
}
