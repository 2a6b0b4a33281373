package dev.qig.core.hf;

import dev.qig.core.engine.LayerGroups;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.EncodedPrompt;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.TokenModality;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.model.DecoderLayer;
import dev.qig.core.engine.AppliedQuantization;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.core.engine.QuantConfigApplier;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A Hugging Face checkpoint through the VQA task and the quantization engine, as every service
 * uses them: both golden fixtures (SigLIP + Qwen2 with q/k/v biases and tied embeddings; CLIP +
 * Llama in bfloat16 shards), each given the synthetic world's tokenizer (the fixtures carry none).
 */
class HfCheckpointVqaTest {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llava-siglip-qwen2", "llava-clip-llama"})
    void runsTheTaskAndEveryMethod(String fixture) throws IOException {
        Path dir = withTokenizer(fixture);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Checkpoint.Loaded loaded = Checkpoint.load(dir.toString(), manager);
            VqaModel vqa = loaded.vqa();
            assertTrue(loaded.modelId().startsWith("sha256-"), loaded.modelId());
            List<VqaSample> samples = samples(4);

            EncodedPrompt prompt = vqa.encode(samples.get(0).question(), samples.get(0).answer());
            int[] ids = prompt.tokenIds();
            TokenModality[] modality = prompt.modality();
            int visionTokens = vqa.model().config().visionTokens();
            assertEquals(visionTokens, java.util.Arrays.stream(ids).filter(id -> id == vqa.model().config().imageTokenId()).count());
            assertEquals(TokenModality.VISION, modality[prompt.imageStart()]);
            assertEquals(TokenModality.ANSWER, modality[prompt.answerStart()]);

            double[] ll = vqa.answerLogLikelihood(samples, manager);
            for (double v : ll) {
                assertTrue(Double.isFinite(v) && v < 0, "answer log-likelihood " + v);
            }
            assertEquals(samples.size(), vqa.generate(samples, manager).size());

            for (QuantScheme scheme : List.of(QuantScheme.W4A8, QuantScheme.W3A16, QuantScheme.W4A16)) {
                BatchCalibrator calibrator = new BatchCalibrator(vqa, CalibrationSettings.defaults(scheme).withBatchSize(2),
                        loaded.modelId());
                BatchCalibrator.Result r = calibrator.calibrate(Method.scaleSearches(), samples, manager, (p, n) -> { });
                for (Method method : List.of(Method.AWQ, Method.MBQ, Method.QIG)) {
                    QuantConfig c = r.configs().get(method);
                    for (DecoderLayer layer : vqa.model().layers()) {
                        for (EqualizationGroup g : EqualizationGroup.values()) {
                            GroupKey key = new GroupKey(layer.index(), g);
                            // o is searched only where v and o have the same shape: never under GQA, as here.
                            assertEquals(LayerGroups.appliesTo(g, layer), c.groups().containsKey(key), scheme + " " + method + " " + key);
                        }
                    }
                    c.groups().forEach((k, choice) -> assertTrue(Double.isFinite(choice.loss()),
                            scheme + " " + method + " " + k + " loss " + choice.loss()));
                }
                // Applied, the config changes the model's answers' likelihood, and restoring it gives them back bit for bit.
                try (AppliedQuantization applied = QuantConfigApplier.apply(vqa.model(), r.configs().get(Method.QIG))) {
                    double[] quantized = vqa.answerLogLikelihood(samples, manager);
                    assertNotEquals(ll[0], quantized[0], scheme + ": quantization changed nothing");
                    for (double v : quantized) {
                        assertTrue(Double.isFinite(v), scheme + " quantized log-likelihood " + v);
                    }
                }
                assertEquals(ll[0], vqa.answerLogLikelihood(samples, manager)[0], scheme + ": restored");
            }
            assertFalse(QuantConfigApplier.carriesQuantization(vqa.model()));
        }
    }

    private Path withTokenizer(String fixture) throws IOException {
        Path from = HfFixtures.checkpoint(fixture);
        Path dir = tmp.resolve(fixture);
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, dir.resolve(f.getFileName()));
                }
            }
        }
        TestBedTokenizer.write(dir, HfLlavaConfig.read(dir));
        return dir;
    }

    private static List<VqaSample> samples(int n) {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.addAll(world.generate(Domain.values()[i % Domain.values().length], 1, 17 + i));
        }
        return out;
    }
}
