package dev.qig.attributor.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VisualQuestion;
import dev.qig.data.VqaSample;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSums;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.PartialsKind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The worker's plan retry on the real engine: a plan that arrives while a batch is computed makes the
 * worker compute the batch again under it, so the sums go out tagged with the newest plan and are
 * that plan's; plans that keep arriving are followed at most MAX_PLAN_RETRIES (2) times.
 */
class WorkerPlanRetryTest {

    /** Plans as the plan cache would show them: the n-th look (from 0) sees {@code plans[min(n, last)]}. */
    private static final class FakePlans implements Worker.PlanSource {
        private final List<CalibrationPlan> plans;
        private final AtomicInteger looks = new AtomicInteger();

        FakePlans(List<CalibrationPlan> plans) {
            this.plans = plans;
        }

        @Override
        public CalibrationPlan current(RoundKey key) {
            return plans.get(Math.min(looks.getAndIncrement(), plans.size() - 1));
        }
    }

    @Test
    void aPlanArrivingDuringABatchMakesTheWorkerRecomputeItUnderThatPlan() throws Exception {
        try (WorkerFixture f = new WorkerFixture(2)) {
            List<CalibrationSample> samples = samples(2);
            List<VisualQuestion> questions = questions(f, samples);
            CalibrationPlan newer = planOf(f, questions, 1);
            // The batch starts under the empty plan; plan 1 is there when the worker looks again.
            FakePlans plans = new FakePlans(List.of(CalibrationPlan.empty(), newer));
            f.send(samples);
            f.startWorker(plans, PartialSumsEngine::attribute);

            Map<String, LayerStats> written = f.layerStats(2);
            List<PartialSumsEngine.SampleResult> expected = f.engine.attribute(questions, newer,
                    f.config.scaleSearches(), f.manager);
            for (int i = 0; i < samples.size(); i++) {
                LayerStats s = written.get(samples.get(i).getSampleId());
                assertEquals(1L, s.getPlanVersion(), "tagged with the newest plan");
                assertEquals(PartialsKind.SEARCH, s.getKind(), "the newest plan's search sums, not the empty plan's statistics");
                assertEquals(expected.get(i).sums(), Records.sums(s), "sums of " + s.getSampleId() + " under plan 1");
            }
            assertEquals(3, plans.looks.get(), "looks before the batch, after the stale pass and after the recompute");
            assertEquals(1, f.stats.recomputed(), "the recompute counted");
            assertEquals(2, f.stats.batches(), "two engine passes: the stale one and the recompute");
        }
    }

    @Test
    void plansThatKeepArrivingAreFollowedAtMostTwice() throws Exception {
        try (WorkerFixture f = new WorkerFixture(1)) {
            List<CalibrationSample> samples = samples(1);
            List<VisualQuestion> questions = questions(f, samples);
            CalibrationPlan first = planOf(f, questions, 1);
            List<CalibrationPlan> versions = new ArrayList<>();
            versions.add(CalibrationPlan.empty());
            for (long v = 1; v <= 5; v++) {
                versions.add(new CalibrationPlan(v, first.mu(), first.gradientRatios(), null, first.visionMu()));
            }
            // Every look sees a newer plan than the last.
            FakePlans plans = new FakePlans(versions);
            f.send(samples);
            f.startWorker(plans, PartialSumsEngine::attribute);

            LayerStats s = f.layerStats(1).get(samples.get(0).getSampleId());
            assertEquals(2L, s.getPlanVersion(), "computed under plan 0, then again under 1 and 2, then sent");
            assertEquals(f.engine.attribute(questions, versions.get(2), f.config.scaleSearches(), f.manager).get(0).sums(),
                    Records.sums(s), "the sums of the plan they are tagged with");
            assertEquals(3, plans.looks.get(), "no look after the last retry");
            assertEquals(2, f.stats.recomputed());
            assertEquals(3, f.stats.batches());
        }
    }

    /** Synthetic samples as the samples topic carries them. */
    static List<CalibrationSample> samples(int n) {
        List<CalibrationSample> out = new ArrayList<>();
        for (VqaSample s : new SyntheticWorld().generate(Domain.CLEAN, n, 17)) {
            out.add(Records.calibrationSample(s, s.id(), "test", Instant.parse("2026-11-29T12:00:00Z")).build());
        }
        return out;
    }

    static List<VisualQuestion> questions(WorkerFixture f, List<CalibrationSample> samples) {
        return samples.stream().map(f::question).toList();
    }

    /** The plan the aggregator would make of these samples' statistics. */
    private static CalibrationPlan planOf(WorkerFixture f, List<VisualQuestion> questions, long version) {
        CalibrationSums sums = CalibrationSums.EMPTY;
        for (PartialSumsEngine.SampleResult r : f.engine.attribute(questions, CalibrationPlan.empty(),
                f.config.scaleSearches(), f.manager)) {
            sums = sums.plus(r.sums());
        }
        CalibrationPlan plan = CalibrationPlan.from(version, sums, null);
        assertNotEquals(0, plan.mu().size(), "a plan with groups to search");
        return plan;
    }
}
