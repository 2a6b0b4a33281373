package dev.qig.core.hf;

import dev.qig.io.HfWeights;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qig.io.DType;
import dev.qig.io.SafetensorsWriter;
import dev.qig.io.TensorData;
import dev.qig.core.model.HiddenAct;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Writes a random-weight Hugging Face LLaVA checkpoint folder as transformers' {@code save_pretrained}
 * lays it out: config.json, preprocessor_config.json, processor_config.json, the weights in
 * safetensors shards under the current key layout with {@code model.safetensors.index.json}, and a
 * synthetic-world tokenizer ({@link TestBedTokenizer}). For what real weights cannot give here:
 * measuring cost and memory at a real model's size ({@code qig bench --model}), and loader tests of
 * any valid variant. Its answers mean nothing.
 *
 * <p>Weights are N(0, 0.02) as transformers' {@code initializer_range} draws them, norms one, norm
 * biases zero; every vision layer and the vision post-LayerNorm are written, as a real checkpoint
 * holds them even where LLaVA never reads them. Each tensor is drawn from a seed of its own name, so
 * the same seed gives the same bytes however the shards fall.
 */
public final class RandomCheckpoint {

    /** Checkpoints of a known model's shape. */
    public enum Preset {
        /**
         * llava-hf/llava-interleave-qwen-0.5b-hf's size class: SigLIP-so400m at 384 px (27 layers, hidden 1152,
         * 729 patches of 14 px, all projected) and Qwen2-0.5B (24 layers, hidden 896, 14 heads, 2 kv heads,
         * intermediate 4864, vocabulary 151936, tied embeddings). 0.91 B parameters, 1.8 GB in bfloat16.
         */
        LLAVA_INTERLEAVE_QWEN_0_5B("llava-interleave-qwen-0.5b", LvlmConfig.builder()
                .vision(LvlmConfig.VisionKind.SIGLIP).imageSize(384).patchSize(14).visionHidden(1152).visionLayers(27)
                .visionHeads(16).visionIntermediate(4304).layerNormEps(1e-6).visionAct(HiddenAct.GELU_TANH)
                .projectorAct(HiddenAct.GELU).featureLayer(-1).selectStrategy(LvlmConfig.SelectStrategy.FULL)
                .hidden(896).intermediate(4864).layers(24).heads(14).kvHeads(2).vocabSize(151936).maxPositions(32768)
                .ropeTheta(1_000_000.0).rmsNormEps(1e-6).attentionBias(true).outputBias(false).mlpBias(false)
                .tieEmbeddings(true).imageTokenId(151646).patchPositionEmbedding(false).float32Rope(true).build()),
        /**
         * llava-hf/llava-1.5-7b-hf's shape: CLIP ViT-L/14 at 336 px (24 layers, the second to last read, class
         * token dropped: 576 image tokens) and Llama-2-7B (32 layers, hidden 4096). 7.1 B parameters, 14 GB in bfloat16.
         */
        LLAVA_1_5_7B("llava-1.5-7b", LvlmConfig.builder()
                .vision(LvlmConfig.VisionKind.CLIP).imageSize(336).patchSize(14).visionHidden(1024).visionLayers(24)
                .visionHeads(16).visionIntermediate(4096).layerNormEps(1e-5).visionAct(HiddenAct.QUICK_GELU)
                .projectorAct(HiddenAct.GELU).featureLayer(-2).selectStrategy(LvlmConfig.SelectStrategy.DEFAULT)
                .hidden(4096).intermediate(11008).layers(32).heads(32).kvHeads(32).vocabSize(32064).maxPositions(4096)
                .ropeTheta(10_000.0).rmsNormEps(1e-5).attentionBias(false).outputBias(false).mlpBias(false)
                .tieEmbeddings(false).imageTokenId(32000).patchPositionEmbedding(false).float32Rope(true).build());

        private final String id;
        private final LvlmConfig config;

        Preset(String id, LvlmConfig config) {
            this.id = id;
            this.config = config;
        }

        public String id() {
            return id;
        }

        public LvlmConfig config() {
            return config;
        }

        /** The preset of an id, e.g. {@code llava-interleave-qwen-0.5b}. */
        public static Preset of(String id) {
            for (Preset p : values()) {
                if (p.id.equals(id)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown preset '" + id + "' (known: "
                    + String.join(", ", java.util.Arrays.stream(values()).map(Preset::id).toList()) + ")");
        }
    }

    /** Shards this size or smaller (a bigger tensor gets a shard alone). */
    public static final long DEFAULT_SHARD_BYTES = CheckpointShards.DEFAULT_SHARD_BYTES;

    private static final double STD = 0.02;
    private static final ObjectMapper JSON = new ObjectMapper();

    private RandomCheckpoint() {}

    /**
     * Writes the checkpoint of {@code config} into {@code dir} (created if absent; existing files of
     * the same names are replaced).
     *
     * @param dtype F32, F16 or BF16
     * @param log receives one line per shard written
     * @return the number of weight bytes written
     */
    public static long write(Path dir, LvlmConfig config, DType dtype, long seed, long maxShardBytes, Consumer<String> log)
            throws IOException {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("weights are written as F32, F16 or BF16, not " + dtype);
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(HfLlavaConfig.FILE), HfLlavaConfig.toJson(config, torchDtype(dtype)), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("preprocessor_config.json"), preprocessorConfig(config), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("processor_config.json"), processorConfig(config), StandardCharsets.UTF_8);
        TestBedTokenizer.write(dir, config);

        List<List<Map.Entry<String, long[]>>> shards = CheckpointShards.plan(new ArrayList<>(tensors(config).entrySet()),
                t -> TensorData.numel(t.getValue()) * dtype.byteSize(), maxShardBytes);
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String file = CheckpointShards.fileName(i, shards.size());
            long start = System.nanoTime();
            List<Map.Entry<String, long[]>> shard = shards.get(i);
            // Drawn in parallel, one tensor per task: generating is the slow part, not the disk.
            List<TensorData> data = IntStream.range(0, shard.size()).parallel()
                    .mapToObj(k -> random(shard.get(k).getKey(), shard.get(k).getValue(), dtype, seed)).toList();
            SafetensorsWriter.write(dir.resolve(file), Map.of("format", "pt"), data);
            long bytes = data.stream().mapToLong(TensorData::byteSize).sum();
            total += bytes;
            for (Map.Entry<String, long[]> t : shard) {
                weightMap.put(t.getKey(), file);
            }
            log.accept(String.format(Locale.ROOT, "wrote %s: %d tensors, %.0f MB in %.1f s", file, shard.size(), bytes / 1e6,
                    (System.nanoTime() - start) / 1e9));
        }
        Path index = dir.resolve(HfWeights.INDEX);
        if (shards.size() > 1) {
            CheckpointShards.writeIndex(dir, weightMap, total);
            Files.deleteIfExists(dir.resolve(HfWeights.SINGLE));
        } else {
            Files.deleteIfExists(index);
        }
        return total;
    }

    /** Every tensor a checkpoint of {@code config} holds, by checkpoint name, in model order. */
    static Map<String, long[]> tensors(LvlmConfig config) {
        // All vision layers, not only those up to the feature layer: a real checkpoint has them all.
        Map<String, long[]> internal = VisionLanguageModel.parameterShapes(config.toBuilder().featureLayer(-1).build());
        Map<String, long[]> out = new LinkedHashMap<>();
        internal.forEach((name, shape) -> out.put(HfWeights.checkpointName(name), shape));
        out.put(HfWeights.checkpointName("vision_tower.vision_model.post_layernorm.weight"), new long[] {config.visionHidden()});
        out.put(HfWeights.checkpointName("vision_tower.vision_model.post_layernorm.bias"), new long[] {config.visionHidden()});
        return out;
    }

    private static TensorData random(String name, long[] shape, DType dtype, long seed) {
        int n = Math.toIntExact(TensorData.numel(shape));
        boolean norm = name.matches(".*(norm|layrnorm)[^.]*\\.(weight|bias)");
        float constant = name.endsWith(".weight") ? 1f : 0f;
        SplittableRandom random = new SplittableRandom(seed ^ name.hashCode() * 0x9E3779B97F4A7C15L);
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(n, dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = norm ? constant : (float) (random.nextGaussian() * STD);
            switch (dtype) {
                case BF16 -> buf.putShort(TensorData.floatToBf16(v));
                case F16 -> buf.putShort(TensorData.floatToF16(v));
                default -> buf.putFloat(v);
            }
        }
        return new TensorData(name, dtype, shape, buf.flip());
    }

    private static String torchDtype(DType dtype) {
        return switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        };
    }

    /** CLIPImageProcessor (shortest edge then center crop, OpenAI's statistics) or SiglipImageProcessor (resize, 0.5/0.5). */
    private static String preprocessorConfig(LvlmConfig config) throws IOException {
        boolean clip = config.vision() == LvlmConfig.VisionKind.CLIP;
        ObjectNode root = JSON.createObjectNode();
        root.put("image_processor_type", clip ? "CLIPImageProcessor" : "SiglipImageProcessor");
        root.put("processor_class", "LlavaProcessor");
        root.put("do_resize", true);
        root.put("resample", 3);
        root.put("do_rescale", true);
        root.put("rescale_factor", 1.0 / 255.0);
        root.put("do_normalize", true);
        root.put("do_convert_rgb", true);
        if (clip) {
            root.putObject("size").put("shortest_edge", config.imageSize());
            root.put("do_center_crop", true);
            root.putObject("crop_size").put("height", config.imageSize()).put("width", config.imageSize());
            root.putArray("image_mean").add(0.48145466).add(0.4578275).add(0.40821073);
            root.putArray("image_std").add(0.26862954).add(0.26130258).add(0.27577711);
        } else {
            root.putObject("size").put("height", config.imageSize()).put("width", config.imageSize());
            root.putArray("image_mean").add(0.5).add(0.5).add(0.5);
            root.putArray("image_std").add(0.5).add(0.5).add(0.5);
        }
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }

    private static String processorConfig(LvlmConfig config) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("processor_class", "LlavaProcessor");
        root.put("image_token", "<image>");
        root.put("patch_size", config.patchSize());
        root.put("num_additional_image_tokens", config.vision() == LvlmConfig.VisionKind.CLIP ? 1 : 0);
        root.put("vision_feature_select_strategy",
                config.selectStrategy() == LvlmConfig.SelectStrategy.FULL ? "full" : "default");
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }
}
