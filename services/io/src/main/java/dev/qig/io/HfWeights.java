package dev.qig.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The tensors of a Hugging Face checkpoint: one {@code model.safetensors}, or the shards that
 * {@code model.safetensors.index.json} lists, each memory-mapped (a tensor's bytes are read from the
 * page cache when used, never copied whole onto the heap). Names are the checkpoint's own; the
 * model's names come from {@link #internalName}.
 */
public final class HfWeights implements TensorSource, AutoCloseable {

    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Map<Path, SafetensorsReader> shards;
    /** Checkpoint tensor name -> the shard holding it, in name order. */
    private final TreeMap<String, SafetensorsReader> byName;

    private HfWeights(Map<Path, SafetensorsReader> shards, TreeMap<String, SafetensorsReader> byName) {
        this.shards = shards;
        this.byName = byName;
    }

    public static HfWeights open(Path dir) throws IOException {
        Map<Path, SafetensorsReader> shards = new LinkedHashMap<>();
        TreeMap<String, SafetensorsReader> byName = new TreeMap<>();
        try {
            Path index = dir.resolve(INDEX);
            if (Files.isRegularFile(index)) {
                JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
                if (!map.isObject() || map.isEmpty()) {
                    throw new CheckpointException(index, "weight_map", "is missing or empty");
                }
                for (Map.Entry<String, JsonNode> e : map.properties()) {
                    Path shard = dir.resolve(e.getValue().asText());
                    if (!shard.normalize().startsWith(dir.normalize())) {
                        throw new CheckpointException(index, e.getKey(), "points outside the checkpoint folder: " + e.getValue());
                    }
                    if (!shards.containsKey(shard)) {
                        if (!Files.isRegularFile(shard)) {
                            throw new CheckpointException(index, e.getKey(), "is in shard " + shard.getFileName() + ", which is missing");
                        }
                        shards.put(shard, SafetensorsReader.open(shard));
                    }
                    SafetensorsReader reader = shards.get(shard);
                    if (!reader.contains(e.getKey())) {
                        throw new CheckpointException(shard, e.getKey(), "is listed in " + INDEX + " but not in this shard");
                    }
                    byName.put(e.getKey(), reader);
                }
            } else if (Files.isRegularFile(dir.resolve(SINGLE))) {
                SafetensorsReader reader = SafetensorsReader.open(dir.resolve(SINGLE));
                shards.put(dir.resolve(SINGLE), reader);
                for (String name : reader.names()) {
                    byName.put(name, reader);
                }
            } else {
                throw new CheckpointException(dir, null, "has neither " + SINGLE + " nor " + INDEX);
            }
        } catch (IOException | RuntimeException e) {
            for (SafetensorsReader r : shards.values()) {
                r.close();
            }
            throw e;
        }
        return new HfWeights(shards, byName);
    }

    @Override
    public Set<String> names() {
        return byName.navigableKeySet();
    }

    @Override
    public long[] shape(String name) {
        return byName.get(name).shape(name);
    }

    @Override
    public DType dtype(String name) {
        return byName.get(name).dtype(name);
    }

    @Override
    public Path file(String name) {
        return byName.get(name).path();
    }

    @Override
    public TensorData tensor(String name) throws IOException {
        return byName.get(name).tensor(name);
    }

    /** Every shard, in the order first listed. */
    Set<Path> files() {
        return shards.keySet();
    }

    /**
     * The model's parameter name for a checkpoint tensor name, under both of transformers' layouts
     * (LlavaForConditionalGeneration's {@code _checkpoint_conversion_mapping}: before 4.52
     * {@code language_model.model.*}, {@code language_model.lm_head.*}, {@code vision_tower.*},
     * {@code multi_modal_projector.*}; since then {@code model.language_model.*}, {@code lm_head.*},
     * {@code model.vision_tower.*}, {@code model.multi_modal_projector.*}); null for a name of
     * neither layout.
     */
    public static String internalName(String name) {
        if (name.startsWith("language_model.model.")) {
            return "model." + name.substring("language_model.model.".length());
        }
        if (name.startsWith("language_model.lm_head.")) {
            return "lm_head." + name.substring("language_model.lm_head.".length());
        }
        if (name.startsWith("model.language_model.")) {
            return "model." + name.substring("model.language_model.".length());
        }
        if (name.startsWith("model.vision_tower.") || name.startsWith("model.multi_modal_projector.")) {
            return name.substring("model.".length());
        }
        if (name.startsWith("vision_tower.") || name.startsWith("multi_modal_projector.") || name.startsWith("lm_head.")) {
            return name;
        }
        return null;
    }

    /** The checkpoint name of a model parameter under transformers' current layout (the inverse of {@link #internalName}). */
    public static String checkpointName(String internal) {
        if (internal.startsWith("model.")) {
            return "model.language_model." + internal.substring("model.".length());
        }
        if (internal.startsWith("vision_tower.") || internal.startsWith("multi_modal_projector.")) {
            return "model." + internal;
        }
        return internal; // lm_head.*
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsReader r : shards.values()) {
            try {
                r.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
