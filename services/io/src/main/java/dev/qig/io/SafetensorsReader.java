package dev.qig.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Reads a safetensors file. The header is parsed and fully validated in {@link #open}; tensor data
 * is memory-mapped per tensor on demand, so files larger than 2 GB work as long as each single tensor
 * is below 2 GB.
 *
 * <p>Validation is stricter than the reference reader: besides its checks (header length, UTF-8,
 * JSON, known dtype, offsets contiguous from 0 and covering the whole data buffer, shape * dtype size
 * equal to the offset span, no overflow) it also rejects duplicate JSON keys, unknown fields in a tensor
 * entry, a header not starting with '{', and non-string metadata values. Every violation is reported as
 * a {@link SafetensorsFormatException} naming the file.
 *
 * <p>Thread-safe. Tensors obtained before {@link #close()} remain readable afterwards: a mapping
 * outlives its channel and is released when the buffer is garbage collected.
 */
public final class SafetensorsReader implements TensorSource, AutoCloseable {

    /** Same cap as the reference implementation; guards against absurd allocations. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> ENTRY_FIELDS = Set.of("dtype", "shape", "data_offsets");

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final NavigableMap<String, Entry> entries;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart, Map<String, String> metadata,
            NavigableMap<String, Entry> entries) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.entries = entries;
    }

    /** Opens and validates {@code file}; the returned reader keeps the file open until closed. */
    public static SafetensorsReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return parse(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static SafetensorsReader parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < Long.BYTES) {
            throw error(file, "file is " + size + " bytes, too short for the 8-byte header length");
        }
        long n = readFully(ch, ByteBuffer.allocate(Long.BYTES), 0).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // n is an unsigned 64-bit value: negative here means >= 2^63.
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw error(file, "header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (n > size - Long.BYTES) {
            throw error(file, "header length " + n + " exceeds the " + (size - Long.BYTES)
                    + " bytes that follow it in the file");
        }
        ByteBuffer headerBytes = readFully(ch, ByteBuffer.allocate((int) n), Long.BYTES);
        long dataStart = Long.BYTES + n;
        long dataLength = size - dataStart;

        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(file + ": header is not valid UTF-8", e);
        }
        if (!text.startsWith("{")) {
            throw error(file, "header does not start with '{'");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }

        Map<String, String> metadata = Map.of();
        NavigableMap<String, Entry> entries = new TreeMap<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(SafetensorsWriter.METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                Entry e = parseEntry(file, field.getKey(), field.getValue(), dataLength);
                entries.put(e.name(), e);
            }
        }
        checkLayout(file, entries.values(), dataLength);
        return new SafetensorsReader(file, ch, dataStart, metadata, Collections.unmodifiableNavigableMap(entries));
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) throws SafetensorsFormatException {
        if (!node.isObject()) {
            throw error(file, "__metadata__ must be a JSON object, found " + node.getNodeType());
        }
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, JsonNode> kv : node.properties()) {
            if (!kv.getValue().isTextual()) {
                throw error(file, "__metadata__ value for key '" + kv.getKey() + "' must be a string, found "
                        + kv.getValue().getNodeType());
            }
            out.put(kv.getKey(), kv.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataLength)
            throws SafetensorsFormatException {
        String where = "tensor '" + name + "': ";
        if (!node.isObject()) {
            throw error(file, where + "entry must be a JSON object, found " + node.getNodeType());
        }
        for (Map.Entry<String, JsonNode> f : node.properties()) {
            if (!ENTRY_FIELDS.contains(f.getKey())) {
                throw error(file, where + "unexpected field '" + f.getKey() + "'");
            }
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw error(file, where + "missing or non-string \"dtype\"");
        }
        DType dtype;
        try {
            dtype = DType.fromCode(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw error(file, where + e.getMessage());
        }
        long[] shape = nonNegativeLongs(file, where, node, "shape", -1);
        long[] offsets = nonNegativeLongs(file, where, node, "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end || end > dataLength) {
            throw error(file, where + "data_offsets " + Arrays.toString(offsets)
                    + " out of range for a data buffer of " + dataLength + " bytes");
        }
        long bytes;
        try {
            bytes = TensorData.byteSize(dtype, shape);
        } catch (IllegalArgumentException e) {
            throw error(file, where + e.getMessage());
        }
        if (bytes != end - begin) {
            throw error(file, where + "shape " + Arrays.toString(shape) + " with dtype " + dtype + " needs "
                    + bytes + " bytes but data_offsets " + Arrays.toString(offsets) + " span " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** Reads an array of non-negative integers; {@code length < 0} allows any length. */
    private static long[] nonNegativeLongs(Path file, String where, JsonNode entry, String field, int length)
            throws SafetensorsFormatException {
        JsonNode arr = entry.get(field);
        if (arr == null || !arr.isArray() || (length >= 0 && arr.size() != length)) {
            throw error(file, where + "\"" + field + "\" must be an array"
                    + (length >= 0 ? " of " + length + " integers" : " of integers") + ", found " + arr);
        }
        long[] out = new long[arr.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = arr.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw error(file, where + "\"" + field + "\" must hold non-negative integers, found " + arr);
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** Tensors must tile the data buffer exactly: sorted by offset, each starts where the last ended. */
    private static void checkLayout(Path file, Iterable<Entry> entries, long dataLength)
            throws SafetensorsFormatException {
        List<Entry> byOffset = new ArrayList<>();
        entries.forEach(byOffset::add);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin() < expected) {
                throw error(file, "tensor '" + e.name() + "' data_offsets [" + e.begin() + ", " + e.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", "
                        + previous.end() + "]");
            }
            if (e.begin() > expected) {
                throw error(file, "bytes [" + expected + ", " + e.begin() + ") of the data buffer belong to "
                        + "no tensor (gap before tensor '" + e.name() + "')");
            }
            expected = e.end();
            previous = e;
        }
        if (expected != dataLength) {
            throw error(file, "tensors cover " + expected + " bytes but the data buffer holds " + dataLength
                    + " (trailing bytes or truncated header)");
        }
    }

    public Path path() {
        return file;
    }

    /** The {@code __metadata__} pairs, empty if the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public Path file(String name) {
        return file;
    }

    /** Tensor names in sorted order. */
    @Override
    public Set<String> names() {
        return entries.navigableKeySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** @throws IllegalArgumentException if there is no such tensor */
    public long[] shape(String name) {
        return entry(name).shape().clone();
    }

    /** @throws IllegalArgumentException if there is no such tensor */
    public DType dtype(String name) {
        return entry(name).dtype();
    }

    /**
     * Maps the tensor's bytes (no copy).
     *
     * @throws IllegalArgumentException if there is no such tensor
     * @throws IllegalStateException if the reader is closed
     */
    public TensorData tensor(String name) throws IOException {
        Entry e = entry(name);
        if (!channel.isOpen()) {
            throw new IllegalStateException("reader for " + file + " is closed");
        }
        long length = e.end() - e.begin();
        if (length > Integer.MAX_VALUE) {
            throw new IOException("tensor '" + name + "' is " + length + " bytes, over the 2 GB limit of a ByteBuffer");
        }
        ByteBuffer bytes = length == 0
                ? ByteBuffer.allocate(0)
                : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), length);
        return new TensorData(name, e.dtype(), e.shape(), bytes);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + file + " (" + entries.size()
                    + " tensors; closest: " + closestNames(name, 5) + ")");
        }
        return e;
    }

    /** Names sharing the longest prefix with {@code name}: usually reveals a typo or naming scheme. */
    private String closestNames(String name, int limit) {
        return entries.keySet().stream()
                .sorted(Comparator.comparingInt((String k) -> -commonPrefix(k, name)).thenComparing(k -> k))
                .limit(limit)
                .collect(Collectors.joining(", ", "[", "]"));
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }

    private static ByteBuffer readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf, position + buf.position()) < 0) {
                throw new EOFException("unexpected end of file");
            }
        }
        return buf.flip();
    }

    private static SafetensorsFormatException error(Path file, String message) {
        return new SafetensorsFormatException(file + ": " + message);
    }
}
