package dev.qig.core.hf;

import dev.qig.io.CheckpointException;
import dev.qig.io.HfWeights;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.qig.io.ModelIds;
import dev.qig.io.DType;
import dev.qig.io.TensorData;
import dev.qig.io.TensorSource;
import dev.qig.core.export.CompressedTensors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qig.core.model.GradientRecording;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads the weights of a Hugging Face {@code LlavaForConditionalGeneration} folder into the
 * project's blocks. Every tensor is checked before the model is used: a missing one, a shape the
 * config contradicts, an unsupported dtype or a name of no known layout fails at start with a
 * {@link CheckpointException} naming the file and the tensor. float16 and bfloat16 weights are
 * widened to float32 exactly (the forward pass computes in float32, as
 * {@code from_pretrained(..., torch_dtype=torch.float32)} does).
 *
 * <p>Each tensor goes from its memory-mapped bytes straight into the engine and is converted
 * there, so the Java heap never holds a copy of a weight; the resident peak is the float32 model
 * plus one tensor.
 */
public final class HfCheckpoint {

    /** Checkpoint tensors LLaVA never reads: they may be present and are skipped. */
    private static final Pattern UNUSED = Pattern.compile(
            "vision_tower\\.vision_model\\.(post_layernorm|head)\\..*|.*\\.rotary_emb\\.inv_freq");
    private static final Pattern VISION_LAYER = Pattern.compile("vision_tower\\.vision_model\\.encoder\\.layers\\.(\\d+)\\..*");

    private HfCheckpoint() {}

    /** The model of a checkpoint folder, with every weight loaded and checked. */
    public static VisionLanguageModel loadModel(Path dir, NDManager manager) throws IOException {
        LvlmConfig config = HfLlavaConfig.read(dir);
        GradientRecording.offInThisThread(); // weights are written in place below
        try (HfWeights stored = HfWeights.open(dir)) {
            TensorSource weights = decoded(stored, dir);
            Map<String, String> sources = match(weights, config, dir);
            VisionLanguageModel model = VisionLanguageModel.allocate(config, manager);
            // One widening buffer for the whole load: a direct buffer per tensor is freed only by a garbage
            // collection, which a load that barely touches the heap never triggers (3 GB more resident at 0.9 B).
            ByteBuffer widening = ByteBuffer.allocateDirect(CHUNK * Float.BYTES).order(ByteOrder.nativeOrder());
            for (Map.Entry<String, Parameter> e : model.weights().parameters().entrySet()) {
                copy(weights, sources.get(e.getKey()), e.getValue().getArray(), widening);
            }
            CompressedTensors.quantizeActivations(model, configJson(dir), stored, HfWeights::internalName);
            return model;
        }
    }

    /** The stored tensors, or their float view when config.json says they are compressed-tensors quantized. */
    private static TensorSource decoded(HfWeights stored, Path dir) throws IOException {
        JsonNode config = configJson(dir);
        return CompressedTensors.isQuantized(config) ? CompressedTensors.decoding(stored, config) : stored;
    }

    private static JsonNode configJson(Path dir) throws IOException {
        return new ObjectMapper().readTree(dir.resolve(HfLlavaConfig.FILE).toFile());
    }

    /** The model id of a checkpoint folder (see {@link ModelIds#hfModelId}). */
    public static String modelId(Path dir) throws IOException {
        return ModelIds.hfModelId(dir);
    }

    /**
     * The checkpoint tensor for every parameter of the model the config describes, or the one
     * line that says why there is none.
     */
    private static Map<String, String> match(TensorSource weights, LvlmConfig config, Path dir) throws CheckpointException {
        Map<String, String> byInternal = new HashMap<>();
        for (String name : weights.names()) {
            String internal = HfWeights.internalName(name);
            if (internal == null) {
                throw new CheckpointException(weights.file(name), name,
                        "is not a LlavaForConditionalGeneration tensor name (neither the language_model.model.* nor the "
                                + "model.language_model.* layout)");
            }
            String before = byInternal.put(internal, name);
            if (before != null) {
                throw new CheckpointException(weights.file(name), name, "duplicates " + before + " (two key layouts mixed)");
            }
        }
        Map<String, long[]> expected = VisionLanguageModel.parameterShapes(config);
        Map<String, String> sources = new HashMap<>();
        TreeSet<String> missing = new TreeSet<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String internal = e.getKey();
            String source = byInternal.get(internal);
            if (source == null) {
                missing.add(internal);
                continue;
            }
            long[] shape = weights.shape(source);
            if (!Arrays.equals(shape, e.getValue())) {
                throw new CheckpointException(weights.file(source), source, "has shape " + Arrays.toString(shape)
                        + ", but " + HfLlavaConfig.FILE + " gives " + Arrays.toString(e.getValue()));
            }
            sources.put(internal, source);
        }
        if (!missing.isEmpty()) {
            throw new CheckpointException(dir, missing.first(), "is missing from the checkpoint"
                    + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more tensors)" : ""));
        }
        int visionLayersUsed = config.visionLayersUsed();
        for (Map.Entry<String, String> e : byInternal.entrySet()) {
            String internal = e.getKey();
            if (expected.containsKey(internal) || UNUSED.matcher(internal).matches() || internal.equals("lm_head.weight")) {
                continue; // lm_head.weight of a tied model: a copy of the embeddings some writers keep
            }
            Matcher layer = VISION_LAYER.matcher(internal);
            if (layer.matches() && Integer.parseInt(layer.group(1)) >= visionLayersUsed
                    && Integer.parseInt(layer.group(1)) < config.visionLayers()) {
                continue; // after vision_feature_layer: never read
            }
            throw new CheckpointException(weights.file(e.getValue()), e.getValue(), "is not part of the model "
                    + HfLlavaConfig.FILE + " describes");
        }
        return sources;
    }

    /** Elements widened per step from half precision: bounds the off-heap buffer at 16 MiB whatever the tensor. */
    private static final int CHUNK = 4 << 20;

    private static void copy(TensorSource weights, String source, NDArray target, ByteBuffer widening) throws IOException {
        TensorData t = weights.tensor(source);
        checkType(t.dtype(), weights.file(source), source);
        NDManager manager = target.getManager();
        if (t.dtype() == DType.F32) {
            try (NDArray loaded = manager.create(t.data(), new Shape(t.shape()), DataType.FLOAT32)) {
                target.set(new NDIndex("..."), loaded);
            }
            return;
        }
        // The engine's own bfloat16 import aborts the JVM (DJL 0.36, PyTorch 2.7.1), so half precision is
        // widened here, exactly, row block by row block into one reused direct buffer.
        long[] shape = t.shape();
        long rows = shape.length == 0 ? 1 : shape[0];
        long rowSize = shape.length == 0 ? 1 : t.numel() / Math.max(rows, 1);
        long perChunk = Math.max(1, CHUNK / Math.max(rowSize, 1));
        ShortBuffer halves = t.data().asShortBuffer();
        int bytes = Math.toIntExact(Math.min(rows, perChunk) * rowSize * Float.BYTES);
        // A row longer than the buffer (over 4M values) gets one of its own.
        ByteBuffer wide = bytes <= widening.capacity() ? widening : ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        boolean bf16 = t.dtype() == DType.BF16;
        for (long from = 0; from < rows; from += perChunk) {
            long to = Math.min(rows, from + perChunk);
            FloatBuffer floats = wide.clear().asFloatBuffer();
            for (long i = from * rowSize; i < to * rowSize; i++) {
                short h = halves.get((int) i);
                floats.put(bf16 ? TensorData.bf16ToFloat(h) : TensorData.f16ToFloat(h));
            }
            wide.limit(Math.toIntExact((to - from) * rowSize * Float.BYTES));
            long[] blockShape = shape.clone();
            if (shape.length > 0) {
                blockShape[0] = to - from;
            }
            try (NDArray block = manager.create(wide, new Shape(blockShape), DataType.FLOAT32)) {
                target.set(shape.length == 0 ? new NDIndex("...") : new NDIndex("{}:{}", from, to), block);
            }
        }
    }

    private static void checkType(DType dtype, Path file, String name) throws CheckpointException {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new CheckpointException(file, name, "is stored as " + dtype + "; supported weight dtypes: F32, F16, BF16");
        }
    }
}
