package dev.qig.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.TreeSet;

/**
 * Model ids, and where the shipped model's files are. A model id is computed from the files alone,
 * with no model loaded, so a service that only names models (the aggregator) needs no DJL.
 * {@code dev.qig.core.model.Checkpoint} loads models and delegates its ids here.
 */
public final class ModelIds {

    /** The model shipped with qig-stream, trained on the synthetic VQA world. */
    public static final String SHIPPED = "classpath:models/qig-vqa-small";

    /** The test-bed layout's files: config, weights (float32, Hugging Face names), one word per line. */
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String VOCAB = "vocab.txt";

    /** Files beside a Hugging Face checkpoint's weights that change what the model computes from a user's text and images. */
    private static final List<String> PROCESSOR_FILES = List.of("preprocessor_config.json", "processor_config.json",
            "tokenizer.json", "tokenizer_config.json", "chat_template.json", "chat_template.jinja", "special_tokens_map.json");

    private ModelIds() {}

    /** True when {@code dir} looks like a Hugging Face checkpoint (a config.json and safetensors weights, no vocab.txt). */
    public static boolean isHfCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG)) && !Files.exists(dir.resolve(VOCAB))
                && (Files.isRegularFile(dir.resolve(HfWeights.SINGLE)) || Files.isRegularFile(dir.resolve(HfWeights.INDEX)));
    }

    /**
     * The model id of a checkpoint: {@code sha256-} and the first 16 hex digits of a SHA-256 over
     * what the model computes with: its config, its vocabulary, and every tensor (name, dtype, shape
     * and bytes, in name order). It names the model by content, so two copies of a checkpoint share
     * an id and a retrained one never does, while the free-form metadata beside the weights (who
     * trained it, from what) can change without changing the model. Every streamed record and config
     * names its model by it.
     */
    public static String modelId(String location) throws IOException {
        if (location.startsWith("classpath:")) {
            return withClasspathCopy(location.substring("classpath:".length()), ModelIds::modelId);
        }
        return modelId(Path.of(location));
    }

    public static String modelId(Path dir) throws IOException {
        if (isHfCheckpoint(dir)) {
            return hfModelId(dir);
        }
        for (String file : List.of(CONFIG, VOCAB, WEIGHTS)) {
            if (!Files.isRegularFile(dir.resolve(file))) {
                throw new IOException("no model at " + dir + " (" + file + " is missing)");
            }
        }
        ContentDigest digest = new ContentDigest();
        for (String file : List.of(CONFIG, VOCAB)) {
            digest.file(file, Files.readAllBytes(dir.resolve(file)));
        }
        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve(WEIGHTS))) {
            for (String name : new TreeSet<>(reader.names())) {
                digest.tensor(reader.tensor(name));
            }
        }
        return digest.id();
    }

    /**
     * The model id of a Hugging Face checkpoint folder: a content hash over config.json, the processor files
     * present and every tensor (name, dtype, shape, bytes) in name order, so the same weights
     * sharded differently keep their id.
     */
    public static String hfModelId(Path dir) throws IOException {
        ContentDigest digest = new ContentDigest();
        digest.file(CONFIG, Files.readAllBytes(dir.resolve(CONFIG)));
        for (String file : PROCESSOR_FILES) {
            if (Files.isRegularFile(dir.resolve(file))) {
                digest.file(file, Files.readAllBytes(dir.resolve(file)));
            }
        }
        try (HfWeights weights = HfWeights.open(dir)) {
            for (String name : weights.names()) {
                digest.tensor(weights.tensor(name));
            }
        }
        return digest.id();
    }

    /** Copies the files of a classpath model folder (config, weights, vocabulary) into {@code dir}. */
    public static void copyFromClasspath(String folder, Path dir) throws IOException {
        for (String file : List.of(CONFIG, WEIGHTS, VOCAB)) {
            String resource = folder + "/" + file;
            try (InputStream in = ModelIds.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException("no model on the classpath at " + resource);
                }
                Files.copy(in, dir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Reads a folder. */
    public interface DirectoryReader<T> {
        T read(Path dir) throws IOException;
    }

    /** Reads a classpath model folder from a temporary copy, deleted afterwards. */
    public static <T> T withClasspathCopy(String folder, DirectoryReader<T> reader) throws IOException {
        Path tmp = Files.createTempDirectory("qig-model");
        try {
            copyFromClasspath(folder, tmp);
            return reader.read(tmp);
        } finally {
            deleteQuietly(tmp);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not clean " + dir, e);
        }
    }
}
