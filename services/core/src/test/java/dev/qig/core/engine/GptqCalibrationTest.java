package dev.qig.core.engine;

import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.VqaSample;
import dev.qig.core.model.QuantizableLinear;
import dev.qig.core.engine.gptq.GptqCalibrator;
import dev.qig.core.vqa.VqaModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ over a real (narrow) model: exactness (batching, unit token weights), that the model comes
 * back in full precision, that it beats round-to-nearest on the outputs, and the stored weights.
 */
class GptqCalibrationTest {

    private static NDManager manager;
    private static VqaModel vqa;
    private static List<VqaSample> samples;
    private static GptqCalibrator.Result plain;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        vqa = EngineFixture.model(manager, EngineFixture.mha(), 21);
        samples = EngineFixture.samples(6, 5);
        plain = calibrator(6).calibrate(samples, null, manager, (w, n) -> { });
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static GptqCalibrator calibrator(int batch) {
        return new GptqCalibrator(vqa, QuantScheme.W3A16, 0.01, false, batch);
    }

    private static float[] logits(List<VqaSample> s) {
        try (NDManager m = manager.newSubManager()) {
            return vqa.logits(new ai.djl.training.ParameterStore(m, false), vqa.teacherForced(s), m, false).toFloatArray();
        }
    }

    @Test
    void quantizesEveryDecoderLinearAndLeavesTheModelInFullPrecision() {
        List<String> names = vqa.model().decoderLinears().stream().map(QuantizableLinear::name).sorted().toList();
        assertEquals(names, new ArrayList<>(plain.weights().linears().keySet()));
        float[] before = logits(samples);
        calibrator(6).calibrate(samples, null, manager, (w, n) -> { });
        assertArrayEquals(before, logits(samples), "the model must be restored bit for bit");
        assertFalse(QuantConfigApplier.carriesQuantization(vqa.model()));
    }

    @Test
    void batchingDoesNotChangeTheResult() {
        GptqCalibrator.Result small = calibrator(2).calibrate(samples, null, manager, (w, n) -> { });
        assertSameWeights(plain.weights(), small.weights());
        assertEquals(plain.errors(), small.errors());
    }

    @Test
    void unitTokenWeightsGivePlainGptq() {
        GptqCalibrator.TokenWeights unit = (sample, group) -> {
            float[] w = new float[vqa.teacherForced(samples.subList(sample, sample + 1)).length(0)];
            Arrays.fill(w, 1f);
            return w;
        };
        GptqCalibrator.Result weighted = calibrator(3).calibrate(samples, unit, manager, (w, n) -> { });
        assertSameWeights(plain.weights(), weighted.weights());
    }

    @Test
    void qigTokenWeightsChangeTheHessianAndSoTheWeights() {
        BatchCalibrator batch = new BatchCalibrator(vqa, CalibrationSettings.defaults(QuantScheme.W3A16).withBatchSize(3), "test");
        List<Map<GroupKey, float[]>> lambda = batch.tokenWeights(samples, manager, (p, n) -> { });
        assertEquals(samples.size(), lambda.size());
        GptqCalibrator.Result qig = calibrator(3).calibrate(samples, (s, g) -> lambda.get(s).get(g), manager, (w, n) -> { });
        int differing = 0;
        for (String name : plain.weights().linears().keySet()) {
            if (!Arrays.equals(plain.weights().linears().get(name).codes(), qig.weights().linears().get(name).codes())) {
                differing++;
            }
        }
        assertTrue(differing > 0, "QIG weights left every linear's codes unchanged");
    }

    @Test
    void beatsRoundToNearestOnTheCalibrationOutputs() {
        float[] fp = logits(samples);
        QuantConfig rtn = QuantConfig.rtn("test", QuantScheme.W3A16, Map.of());
        double rtnError;
        try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), rtn)) {
            rtnError = mse(fp, logits(samples));
        }
        QuantConfig gptq = new QuantConfig("test", QuantScheme.W3A16, Method.GPTQ, 1, 1, Map.of(), Map.of(),
                new QuantConfig.WeightsRef("in-memory", "0".repeat(64)));
        double gptqError;
        try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), gptq, true, plain.weights())) {
            gptqError = mse(fp, logits(samples));
        }
        assertTrue(gptqError < rtnError, "GPTQ logits error " + gptqError + " not below RTN's " + rtnError);
    }

    @Test
    void storedWeightsApplyAsTheComputedOnesAndAreChecked(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("w.safetensors");
        String sha = plain.weights().write(file);
        QuantizedWeights back = QuantizedWeights.read(file, sha);
        assertSameWeights(plain.weights(), back);
        QuantConfig config = new QuantConfig("test", QuantScheme.W3A16, Method.GPTQ, 1, 1, Map.of(), Map.of(),
                new QuantConfig.WeightsRef("w.safetensors", sha));
        Path json = dir.resolve("config.json");
        Files.writeString(json, config.toJson());
        QuantConfig read = QuantConfig.read(json);
        float[] fromFile;
        try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), read)) {
            fromFile = logits(samples);
        }
        float[] inMemory;
        try (AppliedQuantization a = QuantConfigApplier.apply(vqa.model(), config, true, plain.weights())) {
            inMemory = logits(samples);
        }
        assertArrayEquals(inMemory, fromFile);
        QuantConfig tampered = read.withWeights(new QuantConfig.WeightsRef(read.weights().location(), "1".repeat(64)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QuantConfigApplier.apply(vqa.model(), tampered));
        assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new QuantConfig("test", QuantScheme.W3A16, Method.GPTQ, 1, 1,
                Map.of(), Map.of()), "a GPTQ config without weights");
    }

    private static void assertSameWeights(QuantizedWeights a, QuantizedWeights b) {
        assertEquals(a.linears().keySet(), b.linears().keySet());
        for (String n : a.linears().keySet()) {
            QuantizedWeights.Linear x = a.linears().get(n);
            QuantizedWeights.Linear y = b.linears().get(n);
            assertArrayEquals(x.codes(), y.codes(), n);
            assertArrayEquals(x.scales(), y.scales(), n);
            assertArrayEquals(x.zeros(), y.zeros(), n);
            assertArrayEquals(x.groupIndex(), y.groupIndex(), n);
        }
    }

    private static double mse(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            s += d * d;
        }
        return s / a.length;
    }
}
