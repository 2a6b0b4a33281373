package dev.qig.core.engine;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.EqualizationGroup;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.qig.data.VqaSample;
import dev.qig.core.model.LvlmConfig;
import dev.qig.core.model.VisionLanguageModel;
import dev.qig.core.vqa.VqaModel;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Scaling is exact in full precision; alpha = 0 is RTN; configs apply once and restore exactly. */
class EquivalenceTest {

    private static float[] logits(VqaModel vqa, List<VqaSample> samples, NDManager m) {
        return vqa.logits(new ParameterStore(m, false), vqa.teacherForced(samples), m, false).toFloatArray();
    }

    /** Random positive scales for every group of the model, spanning two orders of magnitude. */
    private static QuantConfig randomScales(VisionLanguageModel model, QuantScheme scheme, long seed) {
        Random r = new Random(seed);
        Map<GroupKey, QuantConfig.GroupChoice> groups = new TreeMap<>();
        for (var layer : model.layers()) {
            for (EqualizationGroup g : EqualizationGroup.values()) {
                if (!LayerGroups.appliesTo(g, layer)) {
                    continue;
                }
                float[] s = new float[LayerGroups.channels(g, layer)];
                for (int c = 0; c < s.length; c++) {
                    s[c] = (float) Math.exp(r.nextGaussian() * 1.2);
                }
                groups.put(new GroupKey(layer.index(), g), new QuantConfig.GroupChoice(0.5, s, 0, 0));
            }
        }
        return new QuantConfig("test", scheme, Method.AWQ, 1, 1, groups, Map.of());
    }

    @Test
    void scalingWithoutQuantizationLeavesEveryOutputUnchanged() {
        // Tolerance: scales span ~e^(+-3.6); float32 rounding of w*s/s and x/s*s stays below 1e-4
        // relative on logits of magnitude ~1.
        for (LvlmConfig c : List.of(EngineFixture.gqa(), EngineFixture.mha())) {
            try (NDManager m = NDManager.newBaseManager()) {
                VqaModel vqa = EngineFixture.model(m, c, 4);
                List<VqaSample> samples = EngineFixture.samples(4, 9);
                float[] before = logits(vqa, samples, m);
                QuantConfig config = randomScales(vqa.model(), QuantScheme.W3A16, 1);
                assertEquals(c.kvHeads() == c.heads(), config.groups().keySet().stream()
                        .anyMatch(k -> k.group() == EqualizationGroup.O), "O group exists exactly without GQA");
                float[] scaled;
                try (AppliedQuantization applied = QuantConfigApplier.apply(vqa.model(), config, false)) {
                    scaled = logits(vqa, samples, m);
                }
                float max = 0;
                for (int i = 0; i < before.length; i++) {
                    max = Math.max(max, Math.abs(before[i] - scaled[i]));
                }
                assertTrue(max < 2e-4f, "scaling changed logits by " + max);
                assertArrayEquals(before, logits(vqa, samples, m), 0f, "restore must be exact");
            }
        }
    }

    @Test
    void scalesDoChangeTheQuantizedModel() {
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = EngineFixture.model(m, EngineFixture.gqa(), 4);
            List<VqaSample> samples = EngineFixture.samples(4, 9);
            float[] rtn;
            try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), QuantConfig.rtn("t", QuantScheme.W3A16, Map.of()))) {
                rtn = logits(vqa, samples, m);
            }
            float[] scaled;
            try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), randomScales(vqa.model(), QuantScheme.W3A16, 2))) {
                scaled = logits(vqa, samples, m);
            }
            float max = 0;
            for (int i = 0; i < rtn.length; i++) {
                max = Math.max(max, Math.abs(rtn[i] - scaled[i]));
            }
            assertTrue(max > 1e-3f, "scales must move quantization error (max diff " + max + ")");
        }
    }

    @Test
    void alphaZeroReproducesRtnExactly() {
        for (QuantScheme scheme : List.of(QuantScheme.W3A16, QuantScheme.W4A8)) {
            try (NDManager m = NDManager.newBaseManager()) {
                VqaModel vqa = EngineFixture.model(m, EngineFixture.gqa(), 5);
                List<VqaSample> samples = EngineFixture.samples(3, 2);
                Map<GroupKey, QuantConfig.GroupChoice> ones = new TreeMap<>();
                for (var layer : vqa.model().layers()) {
                    for (EqualizationGroup g : EqualizationGroup.values()) {
                        if (LayerGroups.appliesTo(g, layer)) {
                            float[] mu = new float[LayerGroups.channels(g, layer)];
                            java.util.Arrays.fill(mu, 0.37f);
                            ones.put(new GroupKey(layer.index(), g),
                                    new QuantConfig.GroupChoice(0, AlphaGrid.scales(mu, 0), 0, 0));
                        }
                    }
                }
                float[] rtn;
                try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), QuantConfig.rtn("t", scheme, Map.of()))) {
                    rtn = logits(vqa, samples, m);
                }
                float[] alphaZero;
                try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(),
                        new QuantConfig("t", scheme, Method.AWQ, 1, 1, ones, Map.of()))) {
                    alphaZero = logits(vqa, samples, m);
                }
                assertArrayEquals(rtn, alphaZero, 0f, scheme + ": alpha = 0 must be bit-identical to RTN");
            }
        }
    }

    @Test
    void applyingAConfigTwiceIsRefusedAndRestoreIsBitExact() {
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = EngineFixture.model(m, EngineFixture.gqa(), 6);
            Map<String, float[]> before = new TreeMap<>();
            vqa.model().weights().parameters().forEach((k, p) -> before.put(k, p.getArray().toFloatArray()));
            QuantConfig config = randomScales(vqa.model(), QuantScheme.W4A8, 3);
            try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), config)) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> QuantConfigApplier.apply(vqa.model(), config));
                assertTrue(e.getMessage().contains("already carries"), e.getMessage());
                assertTrue(vqa.model().decoderLinears().get(0).hasInputQuantizer());
            }
            vqa.model().weights().parameters().forEach((k, p) ->
                    assertArrayEquals(before.get(k), p.getArray().toFloatArray(), 0f, k));
            assertTrue(vqa.model().decoderLinears().stream().noneMatch(l -> l.hasInputQuantizer()));
            // After closing, applying again works.
            QuantConfigApplier.apply(vqa.model(), config).close();
        }
    }

    @Test
    void configJsonRoundTrip() {
        try (NDManager m = NDManager.newBaseManager()) {
            VqaModel vqa = EngineFixture.model(m, EngineFixture.mha(), 6);
            QuantConfig config = randomScales(vqa.model(), QuantScheme.W4A8, 4);
            QuantConfig withProvenance = new QuantConfig(config.model(), config.scheme(), Method.QIG, 7, 3,
                    config.groups(), Map.of("samples", "128", "behaviour", "reference_code"));
            QuantConfig back = QuantConfig.fromJson(withProvenance.toJson());
            assertEquals(withProvenance, back);
            assertEquals("test/w4a8/qig/v7", back.id());
            assertThrows(IllegalArgumentException.class, () -> QuantConfig.fromJson("{\"scheme\":\"w9a9\"}"));
            assertThrows(IllegalArgumentException.class, () -> QuantConfig.fromJson("not json"));
        }
    }
}
