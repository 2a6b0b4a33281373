package dev.qig.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes safetensors files byte-compatible with the reference implementation
 * (huggingface/safetensors {@code serialize_to_file}).
 *
 * <p>Tensor order follows the reference: by dtype in descending alignment (I64, F64, F32, I32, BF16,
 * F16, I16, I8, U8, BOOL), then by name compared as UTF-8 bytes. For files whose tensors all share one
 * dtype this is plain name order. Sorting by alignment first keeps every tensor's data offset a
 * multiple of its element size (the header is padded to 8 bytes), which mmap-based readers rely on.
 * Header keys: {@code __metadata__} first (its entries sorted by key), then tensors in file order.
 */
public final class SafetensorsWriter {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String METADATA_KEY = "__metadata__";

    private static final Comparator<TensorData> FILE_ORDER =
            Comparator.<TensorData>comparingInt(t -> -t.dtype().referenceOrder())
                    .thenComparing(t -> t.name().getBytes(StandardCharsets.UTF_8), Arrays::compareUnsigned);

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} to {@code file}, replacing it atomically: data goes to a temporary file in
     * the same directory, is fsynced, then renamed over the target, so readers never see a partial file.
     *
     * @param metadata string pairs stored under {@code __metadata__}; omitted from the header when null
     *     or empty
     * @throws IllegalArgumentException for duplicate tensor names or a tensor named {@code __metadata__}
     */
    public static void write(Path file, Map<String, String> metadata, List<TensorData> tensors) throws IOException {
        List<TensorData> ordered = new ArrayList<>(tensors);
        ordered.sort(FILE_ORDER);
        byte[] header = header(metadata, ordered);

        Path target = file.toAbsolutePath();
        Path tmp = target.resolveSibling(
                "." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer len = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                len.putLong(header.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                for (TensorData t : ordered) {
                    writeFully(ch, t.data());
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The JSON header, space-padded to a multiple of 8 bytes as the reference writer does. */
    static byte[] header(Map<String, String> metadata, List<TensorData> ordered) throws JsonProcessingException {
        Map<String, Object> root = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) {
            // TreeMap rejects null keys and makes the output independent of the caller's map order.
            Map<String, String> sorted = new TreeMap<>(metadata);
            sorted.forEach((k, v) -> {
                if (v == null) {
                    throw new IllegalArgumentException("metadata value for key '" + k + "' is null");
                }
            });
            root.put(METADATA_KEY, sorted);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorData t : ordered) {
            if (t.name().equals(METADATA_KEY)) {
                throw new IllegalArgumentException("'" + METADATA_KEY + "' is reserved and cannot name a tensor");
            }
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            }
            long end = Math.addExact(offset, t.byteSize());
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            info.put("shape", t.shape());
            info.put("data_offsets", new long[] {offset, end});
            root.put(t.name(), info);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(root);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
