package dev.qig.app.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.attributor.Attributor;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.Vocabulary;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.core.model.Checkpoint;
import dev.qig.core.engine.BatchCalibrator;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.GroupKey;
import dev.qig.quant.Method;
import dev.qig.quant.QuantConfig;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.records.Records;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.GroupChoice;
import dev.qig.schemas.PlanGroup;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The correctness anchor of the streaming path: the same samples through ingest, two attributor
 * instances in one consumer group and the aggregator, on a real broker in this JVM, and through the
 * batch calibrator in one process, give the same first plan (channel means bit for bit) and, under
 * it, the same alpha and the same loss, bit for bit, for every group and method. The attributors cut
 * every sample's sums into several LayerStats records (16 KiB each at most, as a large model's
 * are cut at 256 KiB), whose parts interleave across the two instances. For a static scheme the
 * per-tensor input scales agree too (the ranges travel in the records and merge by max).
 */
class StreamBatchAgreementTest {

    private static final int SAMPLES = 12;

    @ParameterizedTest
    @EnumSource(value = QuantScheme.class, names = {"W3A16", "W8A8_STATIC"})
    void streamAndBatchAgreeOnThePlanAndEveryChoice(QuantScheme scheme) throws Exception {
        List<VqaSample> samples = new SyntheticWorld().trainingMix(SAMPLES, 99);
        LocalPipeline.Options o = new LocalPipeline.Options();
        o.roundSamples = SAMPLES;
        o.attributors = 2;
        o.batchSize = 4;
        o.statsRecordMaxBytes = 16 << 10;
        o.scheme = scheme;
        Duration timeout = Duration.ofMinutes(10);
        CalibrationPlan streamPlan;
        Map<String, dev.qig.schemas.QuantConfig> streamConfigs;
        String modelId;
        try (LocalPipeline pipeline = LocalPipeline.start(o)) {
            modelId = pipeline.modelId();
            // Round 1: statistics of the samples -> plan 1. Round 2: the same samples again, under plan 1.
            pipeline.ingest(samples, "agreement");
            streamPlan = pipeline.awaitPlan(1, timeout, () -> { });
            pipeline.ingest(samples, "agreement");
            streamConfigs = pipeline.awaitConfigs(2, timeout, () -> { });
            for (Attributor a : pipeline.attributors()) {
                assertTrue(a.stats().attributed() > 0, "both members of the group took samples: "
                        + pipeline.attributors().stream().map(x -> x.stats().attributed()).toList());
            }
            assertEquals(2L * SAMPLES, pipeline.attributed());
            assertTrue(pipeline.deadLetters().isEmpty(), "no dead letters: " + pipeline.deadLetters());
        }

        try (NDManager manager = NDManager.newBaseManager()) {
            Checkpoint.Loaded loaded = Checkpoint.load(Checkpoint.SHIPPED, manager);
            VqaModel vqa = loaded.vqa();
            assertEquals(modelId, loaded.modelId());
            List<VisualQuestion> questions = LocalPipeline.asStreamed(samples, loaded.processor());
            BatchCalibrator batch = new BatchCalibrator(vqa, CalibrationSettings.defaults(scheme), modelId);
            BatchCalibrator.Result result = batch.calibrate(Method.scaleSearches(), questions, manager, (p, n) -> { });
            assertTrue(Records.layerStatsParts("s", dev.qig.kafka.records.RoundKey.parse(streamPlan.getModel() + "/" + scheme.id() + "/x"), streamPlan.getSettings(),
                    1, result.sums(), "clean", java.time.Instant.EPOCH, "a", o.statsRecordMaxBytes).size() > 1,
                    "a sample of this model's shape is cut into several records at 16 KiB");

            assertEquals(result.plan().mu().size(), streamPlan.getGroups().size());
            for (PlanGroup g : streamPlan.getGroups()) {
                float[] mu = result.plan().mu().get(Records.groupKey(g.getLayer(), g.getGroup()));
                assertArrayEquals(mu, Records.primitiveFloats(g.getMu()), 0f, "plan mu of " + g.getLayer() + "." + g.getGroup());
            }
            int checked = 0;
            for (Method m : Method.scaleSearches()) {
                QuantConfig expected = result.configs().get(m);
                dev.qig.schemas.QuantConfig streamed = streamConfigs.get(m.id());
                assertEquals(expected.groups().size(), streamed.getGroups().size(), m + " groups");
                for (GroupChoice g : streamed.getGroups()) {
                    GroupKey k = Records.groupKey(g.getLayer(), g.getGroup());
                    QuantConfig.GroupChoice b = expected.groups().get(k);
                    assertEquals(b.alpha(), g.getAlpha(), 0.0, m + " " + k + " alpha");
                    assertEquals(b.loss(), g.getLoss(), 0.0, m + " " + k + " loss, bit for bit");
                    assertEquals(b.lossAtZero(), g.getLossAtZero(), 0.0, m + " " + k + " RTN loss");
                    assertArrayEquals(b.scales(), Records.primitiveFloats(g.getScales()), 0f, m + " " + k + " scales");
                    checked++;
                }
                assertEquals(expected.inputScales(), Records.config(streamed).inputScales(), m + " input scales, bit for bit");
                assertEquals(scheme.staticActivations() ? 16 : 0, expected.inputScales().size(), m + ": 4 sites x 4 layers");
            }
            assertEquals(36, checked, "12 groups x AWQ, MBQ, QIG");
        }
    }
}
