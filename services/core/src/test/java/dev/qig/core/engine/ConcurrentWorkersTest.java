package dev.qig.core.engine;

import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.data.VqaSample;
import dev.qig.core.vqa.VqaModel;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The engine's global state made safe by construction: two workers, each with its own model copy,
 * calibrate at the same time in one JVM (DJL allows one gradient collector per JVM; the recorder's
 * lock makes them take turns) and get exactly what one worker gets alone; a model that carries a
 * quantization config is refused.
 */
class ConcurrentWorkersTest {

    private static final EnumSet<Method> ALL = Method.scaleSearches();

    @Test
    void twoWorkersWithTheirOwnModelCopiesAgreeWithOneWorkerAlone() throws Exception {
        List<VqaSample> samples = EngineFixture.samples(4, 77);
        CalibrationSettings settings = CalibrationSettings.defaults(QuantScheme.W3A16).withBatchSize(2).withIg(8, 8);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel alone = EngineFixture.model(manager, EngineFixture.gqa(), 5);
            PartialSumsEngine reference = new PartialSumsEngine(alone, settings, "t");
            CalibrationPlan plan = CalibrationPlan.from(1,
                    BatchCalibrator.sum(reference, samples, CalibrationPlan.empty(), ALL, manager, "s", (p, n) -> { })
                            .statistics(), null);
            List<PartialSumsEngine.SampleResult> expected = reference.attribute(samples, plan, ALL, manager);

            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<List<PartialSumsEngine.SampleResult>>> runs = new ArrayList<>();
                for (int w = 0; w < 2; w++) {
                    Callable<List<PartialSumsEngine.SampleResult>> worker = () -> {
                        try (NDManager own = NDManager.newBaseManager()) {
                            VqaModel copy = EngineFixture.model(own, EngineFixture.gqa(), 5);
                            PartialSumsEngine engine = new PartialSumsEngine(copy, settings, "t");
                            List<PartialSumsEngine.SampleResult> out = new ArrayList<>();
                            for (int round = 0; round < 2; round++) {
                                out = engine.attribute(samples, plan, ALL, own);
                            }
                            return out;
                        }
                    };
                    runs.add(pool.submit(worker));
                }
                for (Future<List<PartialSumsEngine.SampleResult>> run : runs) {
                    List<PartialSumsEngine.SampleResult> got = run.get();
                    assertEquals(expected.size(), got.size());
                    for (int i = 0; i < got.size(); i++) {
                        assertTrue(got.get(i).ok(), got.get(i).problem());
                        assertEquals(expected.get(i).sums(), got.get(i).sums(), "sample " + i + ": sums bit-identical");
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void theEngineRefusesAModelThatCarriesAQuantizationConfig() {
        List<VqaSample> samples = EngineFixture.samples(2, 78);
        try (NDManager manager = NDManager.newBaseManager()) {
            VqaModel vqa = EngineFixture.model(manager, EngineFixture.gqa(), 6);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, CalibrationSettings.defaults(QuantScheme.W3A16), "t");
            try (AppliedQuantization applied = QuantConfigApplier.apply(vqa.model(),
                    QuantConfig.rtn("t", QuantScheme.W3A16, java.util.Map.of()))) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> engine.attribute(samples, CalibrationPlan.empty(), ALL, manager));
                assertTrue(e.getMessage().contains("quantization config"), e.getMessage());
            }
            // Restored: the same engine works again.
            assertEquals(2, engine.attribute(samples, CalibrationPlan.empty(), ALL, manager).size());
        }
    }
}
