package dev.qig.core.quant;

import ai.djl.ndarray.NDManager;
import dev.qig.core.data.Domain;
import dev.qig.core.data.SyntheticWorld;
import dev.qig.core.data.Vocabulary;
import dev.qig.core.data.VqaSample;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.List;

/**
 * A real (narrow, untrained) model on the real synthetic world for engine tests: every block,
 * gradient and quantizer is the production one, only the widths are small.
 */
final class EngineFixture {

    private EngineFixture() {}

    /** Decoder hidden 64 with 4 query / 2 kv heads (GQA: no O group). */
    static LvlmConfig gqa() {
        return new LvlmConfig(48, 12, 16, 1, 2, 32, 64, 128, 2, 4, 2, Vocabulary.standard().size(), 64, 10_000.0, 1e-6, 1e-6);
    }

    /** Full multi-head attention: v and o have the same shape, so the O group exists. */
    static LvlmConfig mha() {
        return new LvlmConfig(48, 12, 16, 1, 2, 32, 64, 128, 2, 4, 4, Vocabulary.standard().size(), 64, 10_000.0, 1e-6, 1e-6);
    }

    static VqaModel model(NDManager m, LvlmConfig c, long seed) {
        return new VqaModel(VisionLanguageModel.create(c, m, seed), Vocabulary.standard());
    }

    static List<VqaSample> samples(int n, long seed) {
        SyntheticWorld world = new SyntheticWorld();
        List<VqaSample> out = new ArrayList<>();
        Domain[] d = Domain.values();
        for (int i = 0; i < n; i++) {
            out.add(world.generate(d[i % d.length], i / d.length + 1, seed).get(i / d.length));
        }
        return out;
    }
}
