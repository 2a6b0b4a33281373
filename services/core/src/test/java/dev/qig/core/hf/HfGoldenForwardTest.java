package dev.qig.core.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.qig.io.SafetensorsReader;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The forward pass of both golden checkpoints against transformers' outputs (fixture README:
 * {@code |java - golden| <= 3e-5 + 1e-5 |golden|}, ten times the float32 error observed between
 * two independent implementations; the smallest plausible loader bug moves logits by 4e-4). The
 * golden pixel values are fed to the model, so preprocessing errors stay apart (HfImageProcessorTest).
 */
class HfGoldenForwardTest {

    private static final double ABS = 3e-5;
    private static final double REL = 1e-5;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "llava-siglip-qwen2, case0", "llava-siglip-qwen2, case1", "llava-siglip-qwen2, case2", "llava-siglip-qwen2, case3",
        "llava-clip-llama, case0", "llava-clip-llama, case1", "llava-clip-llama, case2", "llava-clip-llama, case3"
    })
    void matchesTransformers(String fixture, String kase) throws IOException {
        Path dir = HfFixtures.checkpoint(fixture);
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
             SafetensorsReader golden = SafetensorsReader.open(dir.resolve("golden/golden.safetensors"))) {
            VisionLanguageModel model = HfCheckpoint.loadModel(dir, manager);
            LvlmConfig c = model.config();
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray ids = manager.create(golden.tensor(kase + ".input_ids").data().asLongBuffer(),
                    new Shape(golden.shape(kase + ".input_ids")));
            boolean withImages = golden.contains(kase + ".pixel_values");
            NDArray pixels = withImages ? load(manager, golden, kase + ".pixel_values") : null;

            if (withImages) {
                NDList vision = model.visionTower().hiddenStates(ps, pixels);
                assertEquals(c.visionLayersUsed() + 1, vision.size(), "hidden states up to the feature layer");
                for (int i = 0; i < vision.size(); i++) {
                    assertClose(golden, kase + ".vision_hidden_states." + i, vision.get(i));
                }
                assertClose(golden, kase + ".image_features", model.imageFeatures(ps, pixels, false));
            }
            assertClose(golden, kase + ".inputs_embeds", model.inputEmbeddings(ps, pixels, ids, false));

            NDList out = model.forward(ps, withImages ? new NDList(pixels, ids) : new NDList(ids), false);
            int layers = c.layers();
            for (int i = 1; i < layers; i++) {
                assertClose(golden, kase + ".text_hidden_states." + i, out.get(1 + i));
            }
            assertClose(golden, kase + ".text_last_layer_raw", out.get(1 + layers));
            assertClose(golden, kase + ".text_hidden_states." + layers, out.get(1));
            assertClose(golden, kase + ".logits", out.get(0));
        }
    }

    private static NDArray load(NDManager manager, SafetensorsReader golden, String name) throws IOException {
        return manager.create(golden.tensor(name).toFloatArray(), new Shape(golden.shape(name)));
    }

    private static void assertClose(SafetensorsReader golden, String name, NDArray actual) throws IOException {
        long[] shape = golden.shape(name);
        assertTrue(Arrays.equals(shape, actual.getShape().getShape()),
                name + ": shape " + actual.getShape() + ", golden " + Arrays.toString(shape));
        float[] want = golden.tensor(name).toFloatArray();
        float[] got = actual.toFloatArray();
        double worst = 0;
        double maxAbs = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
            double excess = Math.abs(got[i] - want[i]) - (ABS + REL * Math.abs(want[i]));
            if (at < 0 || excess > worst) {
                worst = excess;
                at = i;
            }
        }
        if (name.endsWith(".logits")) {
            System.out.printf("%s max |java - golden| = %.3g%n", name, maxAbs);
        }
        assertTrue(worst <= 0, name + ": element " + at + " is " + got[at] + ", golden " + want[at]
                + " (over tolerance by " + worst + ")");
    }
}
