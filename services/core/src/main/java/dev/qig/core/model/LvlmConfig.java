package dev.qig.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Shape and variant of a LLaVA-style vision-language model: a ViT vision tower, a 2-layer MLP
 * projector and a Llama/Qwen2 decoder. The same blocks run the project's own test-bed model and
 * Hugging Face {@code LlavaForConditionalGeneration} checkpoints (CLIP or SigLIP vision, Llama or
 * Qwen2 text); the variant fields say which parts differ. Built with {@link #builder()}, whose
 * defaults are the test-bed model's variant.
 *
 * @param imageSize square input image side, in pixels
 * @param patchSize square patch side; a remainder of the image side is dropped, as a 'valid' conv does
 * @param visionHidden width of the vision tower
 * @param visionLayers number of pre-norm ViT blocks
 * @param visionHeads attention heads of the vision tower
 * @param visionIntermediate width of the vision MLP
 * @param hidden decoder width
 * @param intermediate decoder SwiGLU width
 * @param layers decoder layers
 * @param heads decoder query heads
 * @param kvHeads decoder key/value heads (grouped-query attention when fewer than heads)
 * @param vocabSize vocabulary size
 * @param maxPositions longest sequence the model is configured for
 * @param ropeTheta rotary base
 * @param rmsNormEps RMSNorm epsilon
 * @param layerNormEps vision LayerNorm epsilon
 * @param vision which vision tower (the test bed's, CLIP's or SigLIP's)
 * @param visionAct activation of the vision MLP
 * @param projectorAct activation between the projector's two linears
 * @param featureLayer index into the vision tower's hidden states (0 = embeddings, negative from the end)
 *     whose output is projected; ignored by the test bed's tower, which projects its post-normed output
 * @param selectStrategy which vision tokens are projected: {@code default} drops the first (CLIP's class token)
 * @param headDim decoder head width (Llama may set it apart from hidden / heads)
 * @param attentionBias whether q, k and v have a bias (Qwen2: yes; Llama: attention_bias)
 * @param outputBias whether o has a bias (Llama's attention_bias; never Qwen2)
 * @param mlpBias whether gate, up and down have a bias (Llama's mlp_bias)
 * @param tieEmbeddings whether lm_head reuses the token embedding matrix
 * @param imageTokenId id of the {@code <image>} token whose positions the vision features fill
 * @param patchPositionEmbedding the test bed's learned per-patch embedding added after the projector
 * @param float32Rope rotary tables computed in float32 as transformers does (the test bed's use float64)
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
        double layerNormEps,
        VisionKind vision,
        HiddenAct visionAct,
        HiddenAct projectorAct,
        int featureLayer,
        SelectStrategy selectStrategy,
        int headDim,
        boolean attentionBias,
        boolean outputBias,
        boolean mlpBias,
        boolean tieEmbeddings,
        int imageTokenId,
        boolean patchPositionEmbedding,
        boolean float32Rope) {

    /** The vision tower's layout. */
    public enum VisionKind {
        /** The test bed's: SigLIP-like patches, no class token, post-LayerNorm applied to its output. */
        TEST_BED,
        /** CLIP: class token, no patch bias, pre-LayerNorm; LLaVA reads a hidden state before post-LayerNorm. */
        CLIP,
        /** SigLIP: no class token, patch bias, no pre-LayerNorm; LLaVA reads a hidden state before post-LayerNorm. */
        SIGLIP
    }

    /** Which vision tokens LLaVA projects ({@code vision_feature_select_strategy}). */
    public enum SelectStrategy {
        /** Drop the first token (CLIP's class token). */
        DEFAULT,
        /** Keep every token. */
        FULL
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public LvlmConfig {
        require(patchSize > 0 && imageSize >= patchSize, "imageSize must be at least patchSize");
        require(vision != VisionKind.TEST_BED || imageSize % patchSize == 0, "imageSize must be a multiple of patchSize");
        require(visionHidden % visionHeads == 0, "visionHidden must be a multiple of visionHeads");
        require(heads % kvHeads == 0, "heads must be a multiple of kvHeads");
        require(headDim > 0 && headDim % 2 == 0, "decoder head dimension must be even (rotary pairs)");
        require(layers > 0 && visionLayers > 0, "need at least one layer in each tower");
        require(vocabSize > 0 && maxPositions > 0, "vocabSize and maxPositions must be positive");
        require(featureLayer >= -visionLayers && featureLayer <= visionLayers,
                "vision feature layer " + featureLayer + " is outside 0.." + visionLayers + " (or -" + visionLayers + "..-1)");
        require(imageTokenId >= 0, "image token id must not be negative");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * The shipped test-bed model: small enough to train on a laptop CPU in an hour. Four decoder layers, not three:
     * a relation question needs a chain (words to patches, patches to roles, both positions to the answer, their
     * comparison, then the relation asked) that three layers would fit with no slack; training supervises the
     * comparison after layer 2 and leaves the last layer to pick the relation.
     */
    public static LvlmConfig small(int vocabSize) {
        return builder().imageSize(48).patchSize(12).visionHidden(128).visionLayers(2).visionHeads(4).visionIntermediate(512)
                .hidden(256).intermediate(768).layers(4).heads(4).kvHeads(2).vocabSize(vocabSize).maxPositions(96)
                .build();
    }

    /** The same model with {@code layers} decoder layers. */
    public LvlmConfig withDecoderLayers(int layers) {
        return toBuilder().layers(layers).build();
    }

    public int visionHeadDim() {
        return visionHidden / visionHeads;
    }

    /** Patches per image side (a remainder of the image side is dropped). */
    public int patchGrid() {
        return imageSize / patchSize;
    }

    /** Tokens the vision tower's encoder runs over: the patches, and CLIP's class token. */
    public int visionSequence() {
        int patches = patchGrid() * patchGrid();
        return vision == VisionKind.CLIP ? patches + 1 : patches;
    }

    /** Number of vision tokens one image becomes in the decoder's sequence. */
    public int visionTokens() {
        return selectStrategy == SelectStrategy.DEFAULT && vision != VisionKind.TEST_BED ? visionSequence() - 1 : visionSequence();
    }

    /** How many vision encoder layers run: those up to the feature layer (later ones cannot change the features). */
    public int visionLayersUsed() {
        if (vision == VisionKind.TEST_BED) {
            return visionLayers;
        }
        return featureLayer >= 0 ? featureLayer : visionLayers + 1 + featureLayer;
    }

    /** The test bed's config.json: a {@code llava} config read back by {@link #fromJson}. */
    public String toJson() {
        if (vision != VisionKind.TEST_BED) {
            throw new IllegalStateException("LvlmConfig.toJson writes the test bed's config; HfLlavaConfig.toJson writes a Hugging Face one");
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("model_type", "llava");
        root.putArray("architectures").add("LlavaForConditionalGeneration");
        root.put("projector_hidden_act", "gelu");
        root.put("image_token_index", imageTokenId);
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
        ObjectNode visionNode = root.putObject("vision_config");
        visionNode.put("model_type", "siglip_vision_model");
        visionNode.put("image_size", imageSize);
        visionNode.put("patch_size", patchSize);
        visionNode.put("num_channels", 3);
        visionNode.put("hidden_size", visionHidden);
        visionNode.put("num_hidden_layers", visionLayers);
        visionNode.put("num_attention_heads", visionHeads);
        visionNode.put("intermediate_size", visionIntermediate);
        visionNode.put("layer_norm_eps", layerNormEps);
        visionNode.put("hidden_act", "gelu");
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a test-bed config.json written by {@link #toJson}. Hugging Face checkpoints go through {@code HfLlavaConfig}. */
    public static LvlmConfig fromJson(String json) {
        try {
            JsonNode root = JSON.readTree(json);
            JsonNode text = need(root, "text_config");
            JsonNode visionNode = need(root, "vision_config");
            return builder()
                    .imageSize(need(visionNode, "image_size").asInt())
                    .patchSize(need(visionNode, "patch_size").asInt())
                    .visionHidden(need(visionNode, "hidden_size").asInt())
                    .visionLayers(need(visionNode, "num_hidden_layers").asInt())
                    .visionHeads(need(visionNode, "num_attention_heads").asInt())
                    .visionIntermediate(need(visionNode, "intermediate_size").asInt())
                    .hidden(need(text, "hidden_size").asInt())
                    .intermediate(need(text, "intermediate_size").asInt())
                    .layers(need(text, "num_hidden_layers").asInt())
                    .heads(need(text, "num_attention_heads").asInt())
                    .kvHeads(text.path("num_key_value_heads").asInt(need(text, "num_attention_heads").asInt()))
                    .vocabSize(need(text, "vocab_size").asInt())
                    .maxPositions(text.path("max_position_embeddings").asInt(4096))
                    .ropeTheta(text.path("rope_theta").asDouble(10_000.0))
                    .rmsNormEps(text.path("rms_norm_eps").asDouble(1e-6))
                    .layerNormEps(visionNode.path("layer_norm_eps").asDouble(1e-6))
                    .build();
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

    /** Named setters for a config; defaults are the test-bed model's variant (see {@link #small}). */
    public static final class Builder {
        private int imageSize;
        private int patchSize;
        private int visionHidden;
        private int visionLayers;
        private int visionHeads;
        private int visionIntermediate;
        private int hidden;
        private int intermediate;
        private int layers;
        private int heads;
        private int kvHeads;
        private int vocabSize;
        private int maxPositions;
        private double ropeTheta = 10_000.0;
        private double rmsNormEps = 1e-6;
        private double layerNormEps = 1e-6;
        private VisionKind vision = VisionKind.TEST_BED;
        private HiddenAct visionAct = HiddenAct.GELU;
        private HiddenAct projectorAct = HiddenAct.GELU;
        private int featureLayer = -1;
        private SelectStrategy selectStrategy = SelectStrategy.FULL;
        private int headDim; // 0: hidden / heads
        private boolean attentionBias = true;
        private boolean outputBias;
        private boolean mlpBias;
        private boolean tieEmbeddings;
        private int imageTokenId = 3;
        private boolean patchPositionEmbedding = true;
        private boolean float32Rope;

        private Builder() {}

        private Builder(LvlmConfig c) {
            imageSize = c.imageSize;
            patchSize = c.patchSize;
            visionHidden = c.visionHidden;
            visionLayers = c.visionLayers;
            visionHeads = c.visionHeads;
            visionIntermediate = c.visionIntermediate;
            hidden = c.hidden;
            intermediate = c.intermediate;
            layers = c.layers;
            heads = c.heads;
            kvHeads = c.kvHeads;
            vocabSize = c.vocabSize;
            maxPositions = c.maxPositions;
            ropeTheta = c.ropeTheta;
            rmsNormEps = c.rmsNormEps;
            layerNormEps = c.layerNormEps;
            vision = c.vision;
            visionAct = c.visionAct;
            projectorAct = c.projectorAct;
            featureLayer = c.featureLayer;
            selectStrategy = c.selectStrategy;
            headDim = c.headDim;
            attentionBias = c.attentionBias;
            outputBias = c.outputBias;
            mlpBias = c.mlpBias;
            tieEmbeddings = c.tieEmbeddings;
            imageTokenId = c.imageTokenId;
            patchPositionEmbedding = c.patchPositionEmbedding;
            float32Rope = c.float32Rope;
        }

        public Builder imageSize(int v) { imageSize = v; return this; }
        public Builder patchSize(int v) { patchSize = v; return this; }
        public Builder visionHidden(int v) { visionHidden = v; return this; }
        public Builder visionLayers(int v) { visionLayers = v; return this; }
        public Builder visionHeads(int v) { visionHeads = v; return this; }
        public Builder visionIntermediate(int v) { visionIntermediate = v; return this; }
        public Builder hidden(int v) { hidden = v; return this; }
        public Builder intermediate(int v) { intermediate = v; return this; }
        public Builder layers(int v) { layers = v; return this; }
        public Builder heads(int v) { heads = v; return this; }
        public Builder kvHeads(int v) { kvHeads = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder maxPositions(int v) { maxPositions = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder layerNormEps(double v) { layerNormEps = v; return this; }
        public Builder vision(VisionKind v) { vision = v; return this; }
        public Builder visionAct(HiddenAct v) { visionAct = v; return this; }
        public Builder projectorAct(HiddenAct v) { projectorAct = v; return this; }
        public Builder featureLayer(int v) { featureLayer = v; return this; }
        public Builder selectStrategy(SelectStrategy v) { selectStrategy = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        public Builder outputBias(boolean v) { outputBias = v; return this; }
        public Builder mlpBias(boolean v) { mlpBias = v; return this; }
        public Builder tieEmbeddings(boolean v) { tieEmbeddings = v; return this; }
        public Builder imageTokenId(int v) { imageTokenId = v; return this; }
        public Builder patchPositionEmbedding(boolean v) { patchPositionEmbedding = v; return this; }
        public Builder float32Rope(boolean v) { float32Rope = v; return this; }

        public LvlmConfig build() {
            require(heads > 0 && visionHeads > 0, "heads and visionHeads must be positive");
            require(headDim > 0 || hidden % heads == 0, "hidden must be a multiple of heads");
            return new LvlmConfig(imageSize, patchSize, visionHidden, visionLayers, visionHeads, visionIntermediate, hidden,
                    intermediate, layers, heads, kvHeads, vocabSize, maxPositions, ropeTheta, rmsNormEps, layerNormEps,
                    vision, visionAct, projectorAct, featureLayer, selectStrategy, headDim > 0 ? headDim : hidden / heads,
                    attentionBias, outputBias, mlpBias, tieEmbeddings, imageTokenId, patchPositionEmbedding, float32Rope);
        }
    }
}
