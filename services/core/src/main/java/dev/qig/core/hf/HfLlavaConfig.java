package dev.qig.core.hf;

import dev.qig.io.CheckpointException;
import dev.qig.io.ModelIds;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.core.model.HiddenAct;
import dev.qig.core.model.LvlmConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Reads the {@code config.json} of a Hugging Face {@code LlavaForConditionalGeneration} checkpoint
 * into an {@link LvlmConfig}. A key a config leaves out takes the default of the transformers config
 * class it belongs to ({@code LlavaConfig}, {@code LlamaConfig}, {@code Qwen2Config},
 * {@code CLIPVisionConfig}, {@code SiglipVisionConfig}): hub configs such as llava-1.5-7b-hf's store
 * only what differs from them. Anything this project cannot compute exactly is refused here, at
 * start, naming the file and the key.
 *
 * <p>Each supported part is one entry of a small table (a text model type, a vision model type);
 * another LLaVA family (LLaVA-OneVision's anyres tiles, Qwen2-VL, InternVL2) adds its own entries and
 * merge rule: see docs/models.md.
 */
public final class HfLlavaConfig {

    public static final String FILE = "config.json";

    private static final Set<String> FAMILIES = Set.of("llava");
    private static final List<String> TEXT_TYPES = List.of("llama", "qwen2");
    private static final List<String> VISION_TYPES = List.of("clip_vision_model", "siglip_vision_model");

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfLlavaConfig() {}

    /** True when {@code dir} looks like a Hugging Face checkpoint (a config.json and safetensors weights, no vocab.txt). */
    public static boolean isCheckpoint(Path dir) {
        return ModelIds.isHfCheckpoint(dir);
    }

    public static LvlmConfig read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, null, "is missing");
        }
        return parse(Files.readString(file, StandardCharsets.UTF_8), file);
    }

    static LvlmConfig parse(String json, Path file) throws CheckpointException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "is not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file, null, "is not a JSON object");
        }
        Keys top = new Keys(root, file, "");
        String modelType = top.string("model_type", null);
        if (modelType == null || !FAMILIES.contains(modelType)) {
            throw new CheckpointException(file, "model_type", "is " + (modelType == null ? "absent" : "'" + modelType + "'")
                    + "; supported: llava (LlavaForConditionalGeneration). LLaVA-OneVision, Qwen2-VL and InternVL2 are "
                    + "planned additions (docs/models.md)");
        }
        JsonNode textNode = root.path("text_config");
        JsonNode visionNode = root.path("vision_config");
        Keys text = new Keys(textNode.isObject() ? textNode : JSON.createObjectNode().put("model_type", "llama"), file, "text_config.");
        Keys vision = new Keys(visionNode.isObject() ? visionNode : llavaDefaultVision(), file, "vision_config.");

        String textType = text.string("model_type", "llama");
        if (!TEXT_TYPES.contains(textType)) {
            throw new CheckpointException(file, "text_config.model_type", "is '" + textType + "'; supported: " + TEXT_TYPES);
        }
        String visionType = vision.string("model_type", "clip_vision_model");
        if (!VISION_TYPES.contains(visionType)) {
            throw new CheckpointException(file, "vision_config.model_type", "is '" + visionType + "'; supported: " + VISION_TYPES);
        }
        boolean qwen2 = textType.equals("qwen2");
        boolean clip = visionType.equals("clip_vision_model");

        if (!top.bool("multimodal_projector_bias", true)) {
            throw new CheckpointException(file, "multimodal_projector_bias", "is false; only projectors with biases are supported");
        }
        JsonNode featureLayer = root.path("vision_feature_layer");
        if (featureLayer.isArray()) {
            throw new CheckpointException(file, "vision_feature_layer", "is a list; only a single layer is supported");
        }
        if (!text.node("rope_scaling").isMissingNode() && !text.node("rope_scaling").isNull()) {
            throw new CheckpointException(file, "text_config.rope_scaling", "is set; only the default rotary embedding is supported");
        }
        if (qwen2 && text.bool("use_sliding_window", false)) {
            throw new CheckpointException(file, "text_config.use_sliding_window", "is true; sliding-window attention is not supported");
        }
        String textAct = text.string("hidden_act", "silu");
        if (!textAct.equals("silu")) {
            throw new CheckpointException(file, "text_config.hidden_act", "is '" + textAct + "'; only silu (SwiGLU) is supported");
        }
        String strategy = top.string("vision_feature_select_strategy", "default");
        if (!strategy.equals("default") && !strategy.equals("full")) {
            throw new CheckpointException(file, "vision_feature_select_strategy", "is '" + strategy + "'; supported: default, full");
        }
        if (vision.integer("num_channels", 3) != 3) {
            throw new CheckpointException(file, "vision_config.num_channels", "must be 3");
        }

        int heads = text.integer("num_attention_heads", 32);
        int hidden = text.integer("hidden_size", 4096);
        boolean attentionBias = qwen2 || text.bool("attention_bias", false);
        Boolean tied = top.has("tie_word_embeddings") ? top.bool("tie_word_embeddings", false)
                : text.bool("tie_word_embeddings", false);
        int imageToken = top.has("image_token_index") ? top.integer("image_token_index", 32000) : top.integer("image_token_id", 32000);
        try {
            return LvlmConfig.builder()
                    .vision(clip ? LvlmConfig.VisionKind.CLIP : LvlmConfig.VisionKind.SIGLIP)
                    .imageSize(vision.integer("image_size", 224))
                    .patchSize(vision.integer("patch_size", clip ? 32 : 16))
                    .visionHidden(vision.integer("hidden_size", 768))
                    .visionLayers(vision.integer("num_hidden_layers", 12))
                    .visionHeads(vision.integer("num_attention_heads", 12))
                    .visionIntermediate(vision.integer("intermediate_size", 3072))
                    .layerNormEps(vision.number("layer_norm_eps", clip ? 1e-5 : 1e-6))
                    .visionAct(act(vision, clip ? "quick_gelu" : "gelu_pytorch_tanh", "hidden_act", file))
                    .projectorAct(act(top, "gelu", "projector_hidden_act", file))
                    .featureLayer(top.integer("vision_feature_layer", -2))
                    .selectStrategy(strategy.equals("full") ? LvlmConfig.SelectStrategy.FULL : LvlmConfig.SelectStrategy.DEFAULT)
                    .hidden(hidden)
                    .intermediate(text.integer("intermediate_size", qwen2 ? 22016 : 11008))
                    .layers(text.integer("num_hidden_layers", 32))
                    .heads(heads)
                    .kvHeads(text.integer("num_key_value_heads", heads))
                    .headDim(text.has("head_dim") && !text.node("head_dim").isNull() ? text.integer("head_dim", 0) : 0)
                    .vocabSize(text.integer("vocab_size", qwen2 ? 151936 : 32000))
                    .maxPositions(text.integer("max_position_embeddings", qwen2 ? 32768 : 2048))
                    .ropeTheta(text.number("rope_theta", 10_000.0))
                    .rmsNormEps(text.number("rms_norm_eps", 1e-6))
                    .attentionBias(attentionBias)
                    .outputBias(!qwen2 && attentionBias)
                    .mlpBias(!qwen2 && text.bool("mlp_bias", false))
                    .tieEmbeddings(tied)
                    .imageTokenId(imageToken)
                    .patchPositionEmbedding(false)
                    .float32Rope(true)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, null, e.getMessage());
        }
    }

    /**
     * The config.json transformers writes for {@code config}: every key {@link #parse} reads is written,
     * so reading it back gives {@code config} again. The text model type follows from the biases
     * (Qwen2: q, k and v biased, o not). For checkpoints this project writes (random-weight test
     * checkpoints, exports); a checkpoint a user brings keeps its own file.
     *
     * @param weightDtype {@code torch_dtype} to record (bfloat16, float16 or float32)
     * @throws IllegalArgumentException for the test bed's vision tower, which no transformers class has
     */
    public static String toJson(LvlmConfig config, String weightDtype) {
        if (config.vision() == LvlmConfig.VisionKind.TEST_BED) {
            throw new IllegalArgumentException("the test bed's vision tower has no transformers config (LvlmConfig.toJson writes it)");
        }
        boolean qwen2 = config.attentionBias() && !config.outputBias() && !config.mlpBias();
        boolean clip = config.vision() == LvlmConfig.VisionKind.CLIP;
        ObjectNode root = JSON.createObjectNode();
        root.putArray("architectures").add("LlavaForConditionalGeneration");
        root.put("model_type", "llava");
        root.put("image_token_index", config.imageTokenId());
        root.put("image_seq_length", config.visionTokens());
        root.put("projector_hidden_act", config.projectorAct().hfName());
        root.put("multimodal_projector_bias", true);
        root.put("vision_feature_layer", config.featureLayer());
        root.put("vision_feature_select_strategy", config.selectStrategy() == LvlmConfig.SelectStrategy.FULL ? "full" : "default");
        root.put("tie_word_embeddings", config.tieEmbeddings());
        root.put("torch_dtype", weightDtype);

        ObjectNode text = root.putObject("text_config");
        text.putArray("architectures").add(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        text.put("model_type", qwen2 ? "qwen2" : "llama");
        text.put("hidden_size", config.hidden());
        text.put("intermediate_size", config.intermediate());
        text.put("num_hidden_layers", config.layers());
        text.put("num_attention_heads", config.heads());
        text.put("num_key_value_heads", config.kvHeads());
        if (config.headDim() != config.hidden() / config.heads()) {
            text.put("head_dim", config.headDim());
        }
        text.put("hidden_act", "silu");
        text.put("vocab_size", config.vocabSize());
        text.put("max_position_embeddings", config.maxPositions());
        text.put("rope_theta", config.ropeTheta());
        text.putNull("rope_scaling");
        text.put("rms_norm_eps", config.rmsNormEps());
        text.put("tie_word_embeddings", config.tieEmbeddings());
        if (qwen2) {
            text.put("use_sliding_window", false);
            text.put("max_window_layers", config.layers());
        } else {
            text.put("attention_bias", config.attentionBias());
            text.put("mlp_bias", config.mlpBias());
        }
        text.put("torch_dtype", weightDtype);

        ObjectNode vision = root.putObject("vision_config");
        vision.put("model_type", clip ? "clip_vision_model" : "siglip_vision_model");
        vision.put("hidden_size", config.visionHidden());
        vision.put("intermediate_size", config.visionIntermediate());
        vision.put("num_hidden_layers", config.visionLayers());
        vision.put("num_attention_heads", config.visionHeads());
        vision.put("image_size", config.imageSize());
        vision.put("patch_size", config.patchSize());
        vision.put("num_channels", 3);
        vision.put("hidden_act", config.visionAct().hfName());
        vision.put("layer_norm_eps", config.layerNormEps());
        if (!clip) {
            vision.put("vision_use_head", false);
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of numbers and strings always serializes
        }
    }

    /** LlavaConfig's vision config when a config.json has none: CLIP ViT-L/14 at 336 px. */
    private static JsonNode llavaDefaultVision() {
        return JSON.createObjectNode().put("model_type", "clip_vision_model").put("intermediate_size", 4096)
                .put("hidden_size", 1024).put("patch_size", 14).put("image_size", 336).put("num_hidden_layers", 24)
                .put("num_attention_heads", 16);
    }

    private static HiddenAct act(Keys keys, String fallback, String key, Path file) throws CheckpointException {
        String name = keys.string(key, fallback);
        try {
            return HiddenAct.fromHf(name);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, keys.prefix + key, e.getMessage());
        }
    }

    /** Typed reads of one JSON object, each error naming the file and the full key. */
    private static final class Keys {
        private final JsonNode node;
        private final Path file;
        private final String prefix;

        Keys(JsonNode node, Path file, String prefix) {
            this.node = node;
            this.file = file;
            this.prefix = prefix;
        }

        boolean has(String key) {
            return node.has(key);
        }

        JsonNode node(String key) {
            return node.path(key);
        }

        String string(String key, String fallback) throws CheckpointException {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw new CheckpointException(file, prefix + key, "must be a string, found " + v);
            }
            return v.asText();
        }

        int integer(String key, int fallback) throws CheckpointException {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new CheckpointException(file, prefix + key, "must be an integer, found " + v);
            }
            return v.asInt();
        }

        double number(String key, double fallback) throws CheckpointException {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isNumber()) {
                throw new CheckpointException(file, prefix + key, "must be a number, found " + v);
            }
            return v.asDouble();
        }

        boolean bool(String key, boolean fallback) throws CheckpointException {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw new CheckpointException(file, prefix + key, "must be true or false, found " + v);
            }
            return v.asBoolean();
        }
    }
}
