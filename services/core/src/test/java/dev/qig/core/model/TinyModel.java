package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Small configurations and inputs for block-level tests (real blocks, only narrower). */
final class TinyModel {

    private TinyModel() {}

    /** 24x24 images in 8x8 patches (9 vision tokens), decoder hidden 32 with 4 query / 2 kv heads. */
    static LvlmConfig config() {
        return LvlmConfig.builder().imageSize(24).patchSize(8).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(32).intermediate(64).layers(2).heads(4).kvHeads(2).vocabSize(20).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
    }

    /** Token ids: bos, 2 text tokens, the image run, then {@code textAfter} text tokens. */
    static int[] ids(LvlmConfig c, int textAfter, long seed) {
        java.util.Random r = new java.util.Random(seed);
        int n = c.visionTokens();
        int[] ids = new int[3 + n + textAfter];
        ids[0] = 1;
        ids[1] = 4 + r.nextInt(c.vocabSize() - 4);
        ids[2] = 4 + r.nextInt(c.vocabSize() - 4);
        for (int i = 0; i < n; i++) {
            ids[3 + i] = VisionLanguageModel.IMAGE_TOKEN;
        }
        for (int i = 0; i < textAfter; i++) {
            ids[3 + n + i] = 4 + r.nextInt(c.vocabSize() - 4);
        }
        return ids;
    }

    static NDArray pixels(NDManager m, LvlmConfig c, int batch) {
        m.getEngine().setRandomSeed(11);
        return m.randomUniform(-1, 1, new Shape(batch, 3, c.imageSize(), c.imageSize()));
    }
}
