package dev.qig.core.model;

import dev.qig.core.engine.GroupQuantizer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.qig.quant.QuantScheme;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QuantizableLinearTest {

    @Test
    void fakeQuantizeAndRestoreLeavesEveryWeightBitIdentical() {
        LvlmConfig c = LvlmConfig.builder().imageSize(24).patchSize(8).visionHidden(16).visionLayers(1).visionHeads(2).visionIntermediate(32).hidden(256).intermediate(384).layers(2).heads(4).kvHeads(2).vocabSize(20).maxPositions(64).ropeTheta(10_000.0).rmsNormEps(1e-6).layerNormEps(1e-6).build();
        try (NDManager m = NDManager.newBaseManager()) {
            VisionLanguageModel model = VisionLanguageModel.create(c, m, 2);
            Map<String, int[]> before = bits(model);
            model.decoderLinears().forEach(l -> l.replaceWeight(GroupQuantizer.of(QuantScheme.W3A16)));
            int changed = 0;
            for (QuantizableLinear l : model.decoderLinears()) {
                assertTrue(l.isWeightReplaced());
                float[] w = l.weight().toFloatArray();
                changed += java.util.Arrays.equals(floatBits(w), before.get(l.name())) ? 0 : 1;
                // Each row group holds at most 2^3 distinct values.
                assertTrue(distinct(w, 0, 128) <= 8, l.name() + " first group has more than 8 levels");
            }
            assertEquals(model.decoderLinears().size(), changed, "quantization must change every decoder weight");
            model.decoderLinears().forEach(QuantizableLinear::restoreWeight);
            Map<String, int[]> after = bits(model);
            for (String name : before.keySet()) {
                assertArrayEquals(before.get(name), after.get(name), name + " not restored bit-exactly");
            }
            model.decoderLinears().forEach(l -> assertFalse(l.isWeightReplaced()));
        }
    }

    @Test
    void replacingTwiceIsRefusedSoTransformsNeverCompound() {
        try (NDManager m = NDManager.newBaseManager()) {
            QuantizableLinear linear = new QuantizableLinear(new WeightRegistry(1), "l", 8, 4, false);
            linear.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32);
            linear.replaceWeight(w -> w.mul(2));
            assertThrows(IllegalStateException.class, () -> linear.replaceWeight(w -> w.mul(2)));
            linear.restoreWeight();
            linear.replaceWeight(w -> w.mul(2)); // allowed again after restore
        }
    }

    @Test
    void listenerSeesTheInputAndInputQuantizerChangesTheOutput() {
        try (NDManager m = NDManager.newBaseManager()) {
            QuantizableLinear linear = new QuantizableLinear(new WeightRegistry(1), "l", 8, 4, true);
            linear.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32);
            ParameterStore ps = new ParameterStore(m, false);
            NDArray x = m.arange(16f).reshape(2, 8).div(7f);
            List<float[]> seen = new ArrayList<>();
            linear.setInputListener((l, in) -> seen.add(in.toFloatArray()));
            NDArray plain = linear.forward(ps, new NDList(x), false).head();
            assertEquals(1, seen.size());
            assertArrayEquals(x.toFloatArray(), seen.get(0), 0f);
            linear.setInputQuantizer(in -> in.round());
            NDArray rounded = linear.forward(ps, new NDList(x), false).head();
            NDArray expected = linear.forward(ps, new NDList(x.round()), false).head();
            assertArrayEquals(expected.toFloatArray(), rounded.toFloatArray(), 1e-6f);
            assertTrue(plain.sub(rounded).abs().max().getFloat() > 1e-3f);
            assertEquals(new Shape(2, 4), rounded.getShape());
        }
    }

    private static Map<String, int[]> bits(VisionLanguageModel model) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (QuantizableLinear l : model.decoderLinears()) {
            out.put(l.name(), floatBits(l.weight().toFloatArray()));
        }
        return out;
    }

    private static int[] floatBits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }

    private static long distinct(float[] w, int from, int to) {
        java.util.Set<Float> s = new java.util.HashSet<>();
        for (int i = from; i < to; i++) {
            s.add(w[i]);
        }
        return s.size();
    }
}
