package dev.qig.core.hf;

import dev.qig.io.HfWeights;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToLongFunction;

/** How transformers' {@code save_pretrained} cuts weights into safetensors shards and indexes them. */
public final class CheckpointShards {

    /** Shards this size or smaller, as {@code save_pretrained(max_shard_size=...)} cuts them (a bigger tensor gets a shard alone). */
    public static final long DEFAULT_SHARD_BYTES = 1L << 30;

    private static final ObjectMapper JSON = new ObjectMapper();

    private CheckpointShards() {}

    /** Consecutive runs of items of at most {@code maxBytes} each (an item larger than that alone). */
    public static <T> List<List<T>> plan(List<T> items, ToLongFunction<T> bytes, long maxBytes) {
        List<List<T>> shards = new ArrayList<>();
        List<T> current = new ArrayList<>();
        long size = 0;
        for (T item : items) {
            long b = bytes.applyAsLong(item);
            if (!current.isEmpty() && size + b > maxBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(item);
            size += b;
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        return shards;
    }

    /** {@code model.safetensors} alone, else {@code model-00001-of-00003.safetensors} and so on. */
    public static String fileName(int index, int count) {
        return count == 1 ? HfWeights.SINGLE : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", index + 1, count);
    }

    /** Writes {@code model.safetensors.index.json}: the total size and each tensor's shard, in name order. */
    public static void writeIndex(Path dir, Map<String, String> weightMap, long totalBytes) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = root.putObject("weight_map");
        new TreeMap<>(weightMap).forEach(map::put);
        Files.writeString(dir.resolve(HfWeights.INDEX), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n",
                StandardCharsets.UTF_8);
    }
}
