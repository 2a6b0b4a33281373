package dev.qig.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Small configurations and inputs for block-level tests (real blocks, only narrower). */
final class TinyModel {

    private TinyModel() {}

    /** 24x24 images in 8x8 patches (9 vision tokens), decoder hidden 32 with 4 query / 2 kv heads. */
    static LvlmConfig config() {
        return new LvlmConfig(24, 8, 16, 1, 2, 32, 32, 64, 2, 4, 2, 20, 64, 10_000.0, 1e-6, 1e-6);
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
