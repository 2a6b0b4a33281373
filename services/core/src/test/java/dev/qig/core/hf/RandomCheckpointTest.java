package dev.qig.core.hf;

import dev.qig.io.HfWeights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.io.DType;
import dev.qig.io.TensorData;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.HiddenAct;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Variants beyond the two golden fixtures, written by {@link RandomCheckpoint} and loaded back: the
 * config survives the round trip, every weight arrives as stored (widened exactly), tied embeddings
 * are one matrix, the task runs, and sharding does not change the model id.
 */
class RandomCheckpointTest {

    @TempDir
    Path tmp;

    private static LvlmConfig.Builder tiny() {
        return LvlmConfig.builder().imageSize(28).patchSize(7).visionHidden(32).visionLayers(3).visionHeads(4)
                .visionIntermediate(64).hidden(64).intermediate(128).layers(2).heads(4).kvHeads(2).vocabSize(300)
                .maxPositions(512).imageTokenId(260).patchPositionEmbedding(false).float32Rope(true).rmsNormEps(1e-6);
    }

    static Stream<Arguments> variants() {
        return Stream.of(
                // llava-interleave's layout: SigLIP, every patch of the last layer, Qwen2 (q/k/v biases), tied.
                Arguments.of("siglip-qwen2-tied-bf16-sharded", DType.BF16, 64 << 10, tiny().vision(LvlmConfig.VisionKind.SIGLIP)
                        .layerNormEps(1e-6).visionAct(HiddenAct.GELU_TANH).featureLayer(-1)
                        .selectStrategy(LvlmConfig.SelectStrategy.FULL).attentionBias(true).outputBias(false)
                        .tieEmbeddings(true).ropeTheta(1e6).build()),
                // Llama with every bias, a head width apart from hidden / heads, untied, CLIP's second to last layer.
                Arguments.of("clip-llama-biases-headdim-f16", DType.F16, 1 << 30, tiny().vision(LvlmConfig.VisionKind.CLIP)
                        .layerNormEps(1e-5).visionAct(HiddenAct.QUICK_GELU).featureLayer(-2)
                        .selectStrategy(LvlmConfig.SelectStrategy.DEFAULT).headDim(24).attentionBias(true).outputBias(true)
                        .mlpBias(true).tieEmbeddings(false).build()),
                // CLIP read at a positive layer index with its class token kept, Qwen2 untied, silu projector, float32.
                Arguments.of("clip-qwen2-layer1-full-f32", DType.F32, 1 << 30, tiny().vision(LvlmConfig.VisionKind.CLIP)
                        .layerNormEps(1e-5).visionAct(HiddenAct.GELU).projectorAct(HiddenAct.SILU).featureLayer(1)
                        .selectStrategy(LvlmConfig.SelectStrategy.FULL).attentionBias(true).outputBias(false)
                        .tieEmbeddings(false).build()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void loadsWhatItWrote(String name, DType dtype, int shardBytes, LvlmConfig config) throws IOException {
        Path dir = tmp.resolve(name);
        List<String> log = new ArrayList<>();
        RandomCheckpoint.write(dir, config, dtype, 7, shardBytes, log::add);
        assertEquals(config, HfLlavaConfig.read(dir), "config.json reads back as written");
        assertEquals(shardBytes < (1 << 20), Files.exists(dir.resolve(HfWeights.INDEX)), "sharded only when cut");
        assertEquals(log.size() > 1, Files.exists(dir.resolve(HfWeights.INDEX)));

        try (NDManager manager = NDManager.newBaseManager("PyTorch"); HfWeights weights = HfWeights.open(dir)) {
            Checkpoint.Loaded loaded = Checkpoint.load(dir.toString(), manager);
            VisionLanguageModel model = loaded.model();
            for (Map.Entry<String, Parameter> e : model.weights().parameters().entrySet()) {
                TensorData stored = weights.tensor(HfWeights.checkpointName(e.getKey()));
                assertEquals(dtype, stored.dtype());
                assertArrayEquals(stored.toFloatArray(), e.getValue().getArray().toFloatArray(), e.getKey());
            }
            assertEquals(config.tieEmbeddings(), !model.weights().parameters().containsKey("lm_head.weight"));
            if (config.tieEmbeddings()) {
                assertSame(model.weights().parameters().get("model.embed_tokens.weight").getArray(), model.lmHead().weight(),
                        "tied lm_head computes with the embedding matrix itself, not a copy");
                assertFalse(weights.names().contains("lm_head.weight"), "save_pretrained drops the tied duplicate");
            }

            List<VqaSample> samples = new SyntheticWorld().trainingMix(2, 11);
            for (double ll : loaded.vqa().answerLogLikelihood(samples, manager)) {
                assertTrue(Double.isFinite(ll) && ll < 0, "answer log-likelihood " + ll);
            }
        }
    }

    @Test
    void shardingDoesNotChangeTheModelId() throws IOException {
        LvlmConfig config = variants().findFirst().map(a -> (LvlmConfig) a.get()[3]).orElseThrow();
        RandomCheckpoint.write(tmp.resolve("one"), config, DType.BF16, 3, 1L << 30, line -> { });
        RandomCheckpoint.write(tmp.resolve("many"), config, DType.BF16, 3, 32 << 10, line -> { });
        RandomCheckpoint.write(tmp.resolve("other-seed"), config, DType.BF16, 4, 1L << 30, line -> { });
        assertTrue(Files.exists(tmp.resolve("many").resolve(HfWeights.INDEX)));
        assertEquals(HfCheckpoint.modelId(tmp.resolve("one")), HfCheckpoint.modelId(tmp.resolve("many")));
        assertFalse(HfCheckpoint.modelId(tmp.resolve("one")).equals(HfCheckpoint.modelId(tmp.resolve("other-seed"))));
    }

    @Test
    void presetsHaveTheirModelsShapes() {
        LvlmConfig qwen = RandomCheckpoint.Preset.of("llava-interleave-qwen-0.5b").config();
        assertEquals(729, qwen.visionTokens());
        assertEquals(64, qwen.headDim());
        long decoder = 0;
        long total = 0;
        for (Map.Entry<String, long[]> e : RandomCheckpoint.tensors(qwen).entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            total += n;
            if (e.getKey().startsWith("model.language_model.")) {
                decoder += n;
            }
        }
        assertEquals(494_032_768L, decoder, "Qwen2-0.5B's published parameter count (tied)");
        assertTrue(total > 900_000_000L && total < 915_000_000L, "0.91 B in all: " + total);
        assertEquals(576, RandomCheckpoint.Preset.of("llava-1.5-7b").config().visionTokens());
    }
}
