package dev.qig.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Shape of a LLaVA-style vision-language model: a ViT vision tower, a 2-layer MLP projector and a
 * Qwen2-style decoder. Serialized as a Hugging Face style {@code config.json} (a {@code llava}
 * config with a {@code qwen2} text config and a ViT vision config) so other tools can read it.
 *
 * @param imageSize square input image side, in pixels
 * @param patchSize square patch side; imageSize must be a multiple of it
 * @param visionHidden width of the vision tower
 * @param visionLayers number of pre-norm ViT blocks
 * @param visionHeads attention heads of the vision tower
 * @param visionIntermediate width of the vision MLP
 * @param hidden decoder width (a multiple of 128, the W3 group size)
 * @param intermediate decoder SwiGLU width (a multiple of 128)
 * @param layers decoder layers
 * @param heads decoder query heads
 * @param kvHeads decoder key/value heads (grouped-query attention when fewer than heads)
 * @param vocabSize vocabulary size
 * @param maxPositions longest sequence the rotary tables are built for
 * @param ropeTheta rotary base
 * @param rmsNormEps RMSNorm epsilon
 * @param layerNormEps vision LayerNorm epsilon
 */
public record LvlmConfig(
        int imageSize,
        int patchSize,
        int visionHidden,
        int visionLayers,
        int visionHeads,
        int visionIntermediate,
        int hidden,
        int intermediate,
        int layers,
        int heads,
        int kvHeads,
        int vocabSize,
        int maxPositions,
        double ropeTheta,
        double rmsNormEps,
        double layerNormEps) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public LvlmConfig {
        require(imageSize % patchSize == 0, "imageSize must be a multiple of patchSize");
        require(visionHidden % visionHeads == 0, "visionHidden must be a multiple of visionHeads");
        require(hidden % heads == 0, "hidden must be a multiple of heads");
        require(heads % kvHeads == 0, "heads must be a multiple of kvHeads");
        require((hidden / heads) % 2 == 0, "decoder head dimension must be even (rotary pairs)");
        require(layers > 0 && visionLayers > 0, "need at least one layer in each tower");
        require(vocabSize > 0 && maxPositions > 0, "vocabSize and maxPositions must be positive");
    }

    /**
     * The shipped test-bed model: small enough to train on a laptop CPU in an hour. Four decoder layers, not three:
     * a relation question needs a chain (words to patches, patches to roles, both positions to the answer, their
     * comparison, then the relation asked) that three layers would fit with no slack; training supervises the
     * comparison after layer 2 and leaves the last layer to pick the relation.
     */
    public static LvlmConfig small(int vocabSize) {
        return new LvlmConfig(48, 12, 128, 2, 4, 512, 256, 768, 4, 4, 2, vocabSize, 96, 10_000.0, 1e-6, 1e-6);
    }

    /** The same model with {@code layers} decoder layers. */
    public LvlmConfig withDecoderLayers(int layers) {
        return new LvlmConfig(imageSize, patchSize, visionHidden, visionLayers, visionHeads, visionIntermediate, hidden,
                intermediate, layers, heads, kvHeads, vocabSize, maxPositions, ropeTheta, rmsNormEps, layerNormEps);
    }

    public int headDim() {
        return hidden / heads;
    }

    public int visionHeadDim() {
        return visionHidden / visionHeads;
    }

    /** Number of vision tokens one image becomes. */
    public int visionTokens() {
        int side = imageSize / patchSize;
        return side * side;
    }

    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("model_type", "llava");
        root.putArray("architectures").add("LlavaForConditionalGeneration");
        root.put("projector_hidden_act", "gelu");
        root.put("image_token_index", 3);
        ObjectNode text = root.putObject("text_config");
        text.put("model_type", "qwen2");
        text.put("hidden_size", hidden);
        text.put("intermediate_size", intermediate);
        text.put("num_hidden_layers", layers);
        text.put("num_attention_heads", heads);
        text.put("num_key_value_heads", kvHeads);
        text.put("vocab_size", vocabSize);
        text.put("max_position_embeddings", maxPositions);
        text.put("rope_theta", ropeTheta);
        text.put("rms_norm_eps", rmsNormEps);
        text.put("hidden_act", "silu");
        text.put("tie_word_embeddings", false);
        ObjectNode vision = root.putObject("vision_config");
        vision.put("model_type", "siglip_vision_model");
        vision.put("image_size", imageSize);
        vision.put("patch_size", patchSize);
        vision.put("num_channels", 3);
        vision.put("hidden_size", visionHidden);
        vision.put("num_hidden_layers", visionLayers);
        vision.put("num_attention_heads", visionHeads);
        vision.put("intermediate_size", visionIntermediate);
        vision.put("layer_norm_eps", layerNormEps);
        vision.put("hidden_act", "gelu");
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static LvlmConfig fromJson(String json) {
        try {
            JsonNode root = JSON.readTree(json);
            JsonNode text = need(root, "text_config");
            JsonNode vision = need(root, "vision_config");
            return new LvlmConfig(
                    need(vision, "image_size").asInt(),
                    need(vision, "patch_size").asInt(),
                    need(vision, "hidden_size").asInt(),
                    need(vision, "num_hidden_layers").asInt(),
                    need(vision, "num_attention_heads").asInt(),
                    need(vision, "intermediate_size").asInt(),
                    need(text, "hidden_size").asInt(),
                    need(text, "intermediate_size").asInt(),
                    need(text, "num_hidden_layers").asInt(),
                    need(text, "num_attention_heads").asInt(),
                    text.path("num_key_value_heads").asInt(need(text, "num_attention_heads").asInt()),
                    need(text, "vocab_size").asInt(),
                    text.path("max_position_embeddings").asInt(4096),
                    text.path("rope_theta").asDouble(10_000.0),
                    text.path("rms_norm_eps").asDouble(1e-6),
                    vision.path("layer_norm_eps").asDouble(1e-6));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("config.json is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static JsonNode need(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("config.json lacks required field '" + field + "'");
        }
        return v;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("invalid model config: " + message);
        }
    }
}
