package dev.qig.core.engine;

import ai.djl.ndarray.NDManager;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.Vocabulary;
import dev.qig.data.VqaSample;
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
        return LvlmConfig.builder().imageSize(48).patchSize(12).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(64).intermediate(128).layers(2).heads(4).kvHeads(2).vocabSize(Vocabulary.standard().size()).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
    }

    /** Full multi-head attention: v and o have the same shape, so the O group exists. */
    static LvlmConfig mha() {
        return LvlmConfig.builder().imageSize(48).patchSize(12).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(64).intermediate(128).layers(2).heads(4).kvHeads(4).vocabSize(Vocabulary.standard().size()).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
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
