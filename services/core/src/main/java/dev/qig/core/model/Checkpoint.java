package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.qig.io.SafetensorsReader;
import dev.qig.io.SafetensorsWriter;
import dev.qig.io.TensorData;
import dev.qig.io.TensorSource;
import dev.qig.core.export.CompressedTensors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qig.io.ModelIds;
import dev.qig.core.hf.HfCheckpoint;
import dev.qig.core.hf.HfLlavaConfig;
import dev.qig.core.hf.HfProcessor;
import dev.qig.data.Vocabulary;
import dev.qig.core.vqa.TestBedProcessor;
import dev.qig.core.vqa.VqaModel;
import dev.qig.core.vqa.VqaProcessor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A model on disk. Either the test-bed model, laid out like a Hugging Face repository:
 * {@code config.json}, {@code model.safetensors} (float32, Hugging Face tensor names) and
 * {@code vocab.txt} (one word per line, line number = token id); or a Hugging Face
 * {@code LlavaForConditionalGeneration} checkpoint folder (see {@link HfCheckpoint}). A location is a
 * directory or {@code classpath:<folder>}.
 */
public final class Checkpoint {

    /** The model shipped with qig-stream, trained on the synthetic VQA world. */
    public static final String SHIPPED = ModelIds.SHIPPED;

    public static final String CONFIG = ModelIds.CONFIG;
    public static final String WEIGHTS = ModelIds.WEIGHTS;
    public static final String VOCAB = ModelIds.VOCAB;

    /**
     * A loaded model with its vocabulary, the metadata stored beside the weights, and its model id
     * (see {@link #modelId(Path)}).
     */
    public record Loaded(VisionLanguageModel model, List<String> vocabulary, Map<String, String> metadata,
                         String modelId, VqaProcessor processor) {

        /** The model with its processor, ready for the VQA task. */
        public VqaModel vqa() {
            return new VqaModel(model, processor);
        }
    }

    private Checkpoint() {}

    public static void save(VisionLanguageModel model, List<String> vocabulary, Map<String, String> metadata, Path dir)
            throws IOException {
        Files.createDirectories(dir);
        List<TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : model.weights().parameters().entrySet()) {
            NDArray w = e.getValue().getArray();
            tensors.add(TensorData.ofFloats(e.getKey(), w.getShape().getShape(), w.toType(DataType.FLOAT32, false).toFloatArray()));
        }
        SafetensorsWriter.write(dir.resolve(WEIGHTS), metadata, tensors);
        Files.writeString(dir.resolve(CONFIG), model.config().toJson(), StandardCharsets.UTF_8);
        Files.write(dir.resolve(VOCAB), vocabulary, StandardCharsets.UTF_8);
    }

    public static Loaded load(String location, NDManager manager) throws IOException {
        if (location.startsWith("classpath:")) {
            return loadFromClasspath(location.substring("classpath:".length()), manager);
        }
        return load(Path.of(location), manager);
    }

    public static Loaded load(Path dir, NDManager manager) throws IOException {
        GradientRecording.offInThisThread(); // weights are written in place below
        if (!Files.isDirectory(dir)) {
            throw new IOException("no model at " + dir + " (expected a directory with " + CONFIG + ", " + WEIGHTS + ", " + VOCAB
                    + ", or a Hugging Face LLaVA checkpoint)");
        }
        if (HfLlavaConfig.isCheckpoint(dir)) {
            VisionLanguageModel model = HfCheckpoint.loadModel(dir, manager);
            return new Loaded(model, List.of(), Map.of(), modelId(dir), HfProcessor.fromFolder(dir, model.config()));
        }
        LvlmConfig config = LvlmConfig.fromJson(Files.readString(dir.resolve(CONFIG), StandardCharsets.UTF_8));
        List<String> vocab = Files.readAllLines(dir.resolve(VOCAB), StandardCharsets.UTF_8);
        if (vocab.size() != config.vocabSize()) {
            throw new IOException(dir + ": " + VOCAB + " has " + vocab.size() + " words, config says " + config.vocabSize());
        }
        VisionLanguageModel model = VisionLanguageModel.create(config, manager, 0);
        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve(WEIGHTS))) {
            JsonNode json = new ObjectMapper().readTree(dir.resolve(CONFIG).toFile());
            copyWeights(CompressedTensors.isQuantized(json) ? CompressedTensors.decoding(reader, json) : reader, model, dir);
            CompressedTensors.quantizeActivations(model, json, reader, n -> n);
            return new Loaded(model, List.copyOf(vocab), reader.metadata(), modelId(dir),
                    new TestBedProcessor(Vocabulary.of(vocab), config.maxPositions(), config.imageSize()));
        }
    }

    /** The model id of a checkpoint (see {@link ModelIds#modelId(String)}). */
    public static String modelId(String location) throws IOException {
        return ModelIds.modelId(location);
    }

    public static String modelId(Path dir) throws IOException {
        return ModelIds.modelId(dir);
    }

    /** Overwrites every parameter with the tensor of the same name; every name must match both ways, except that {@link VisionLanguageModel#ADDED_WEIGHTS} may be absent. */
    private static void copyWeights(TensorSource reader, VisionLanguageModel model, Path where) throws IOException {
        Map<String, Parameter> params = model.weights().parameters();
        TreeSet<String> missing = new TreeSet<>(params.keySet());
        missing.removeAll(reader.names());
        missing.removeAll(VisionLanguageModel.ADDED_WEIGHTS);
        TreeSet<String> unexpected = new TreeSet<>(reader.names());
        unexpected.removeAll(params.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IOException(where + ": weights do not match the config; missing " + first(missing)
                    + ", unexpected " + first(unexpected));
        }
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            if (!reader.names().contains(e.getKey())) {
                continue; // an added weight, kept at its neutral initial value
            }
            NDArray w = e.getValue().getArray();
            long[] shape = reader.shape(e.getKey());
            if (!Arrays.equals(shape, w.getShape().getShape())) {
                throw new IOException(where + ": " + e.getKey() + " has shape " + Arrays.toString(shape)
                        + ", the config needs " + w.getShape());
            }
            float[] values = reader.tensor(e.getKey()).toFloatArray();
            try (NDArray loaded = w.getManager().create(values, new Shape(shape))) {
                w.set(new NDIndex("..."), loaded);
            }
        }
    }

    private static String first(TreeSet<String> names) {
        if (names.isEmpty()) {
            return "none";
        }
        List<String> few = new ArrayList<>(names).subList(0, Math.min(5, names.size()));
        return few + (names.size() > few.size() ? " and " + (names.size() - few.size()) + " more" : "");
    }

    /** Copies the files of a classpath model folder (config, weights, vocabulary) into {@code dir}. */
    public static void copyFromClasspath(String folder, Path dir) throws IOException {
        ModelIds.copyFromClasspath(folder, dir);
    }

    private static Loaded loadFromClasspath(String folder, NDManager manager) throws IOException {
        return ModelIds.withClasspathCopy(folder, dir -> load(dir, manager));
    }
}
