package dev.qig.attributor.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.data.VisualQuestion;
import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.topics.Topics;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.Method;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Isolated attribution on the real engine: when the batched engine call fails, the worker runs each
 * sample alone; the one the engine cannot take becomes a processing_error dead letter, and the
 * others are attributed with the sums they have in a batch without it.
 */
class IsolatedAttributionTest {

    private static final String BAD = "bad";

    /**
     * The real engine, except that it sees the image of sample {@value #BAD} with three values instead
     * of 3 x side x side: the engine then throws for any batch holding it. Records every call's sample ids.
     */
    private static final class FakeEngineWithABadImage implements Worker.EngineCall {
        final List<List<String>> calls = Collections.synchronizedList(new ArrayList<>());

        @Override
        public List<PartialSumsEngine.SampleResult> attribute(PartialSumsEngine engine, List<VisualQuestion> questions,
                                                              CalibrationPlan plan, Set<Method> methods, NDManager manager) {
            calls.add(questions.stream().map(VisualQuestion::id).toList());
            List<VisualQuestion> seen = questions.stream().map(q -> BAD.equals(q.id())
                    ? VisualQuestion.of(q.id(), new float[3], q.question(), q.answer()) : q).toList();
            return engine.attribute(seen, plan, methods, manager);
        }
    }

    @Test
    void aSampleTheEngineCannotTakeFailsAloneAndTheOthersAreAttributed() throws Exception {
        try (WorkerFixture f = new WorkerFixture(3)) {
            List<CalibrationSample> samples = WorkerPlanRetryTest.samples(3);
            samples.get(1).setSampleId(BAD);
            String first = samples.get(0).getSampleId();
            String last = samples.get(2).getSampleId();
            FakeEngineWithABadImage engine = new FakeEngineWithABadImage();
            f.send(samples);
            f.startWorker(key -> CalibrationPlan.empty(), engine);

            Map<String, LayerStats> written = f.layerStats(2);
            List<ConsumerRecord<byte[], byte[]>> letters = f.read(Topics.Topic.DLQ, 1);

            // The batch, then each of its samples alone in its order (partitions make the order the broker's).
            List<String> batchIds = engine.calls.get(0);
            assertEquals(Set.of(first, BAD, last), Set.copyOf(batchIds), "the batch first: " + engine.calls);
            assertEquals(batchIds.stream().map(List::of).toList(), engine.calls.subList(1, engine.calls.size()),
                    "then each sample alone");
            ConsumerRecord<byte[], byte[]> letter = letters.get(0);
            assertEquals(BAD, new String(letter.key()));
            assertEquals("processing_error", DeadLetters.header(letter.headers(), DeadLetters.REASON));
            String message = DeadLetters.header(letter.headers(), DeadLetters.MESSAGE);
            assertTrue(message.startsWith("sample " + BAD + ": engine failed: "), message);
            assertEquals(f.model.modelId(), DeadLetters.header(letter.headers(), DeadLetters.MODEL));

            // The good samples' sums: those of a batch without the bad one.
            List<VisualQuestion> good = List.of(f.question(samples.get(0)), f.question(samples.get(2)));
            List<PartialSumsEngine.SampleResult> batch = f.engine.attribute(good, CalibrationPlan.empty(),
                    f.config.scaleSearches(), f.manager);
            assertEquals(batch.get(0).sums(), Records.sums(written.get(first)), "sums of " + first);
            assertEquals(batch.get(1).sums(), Records.sums(written.get(last)), "sums of " + last);
            assertEquals(0L, written.get(first).getPlanVersion());

            assertEquals(3, f.stats.consumed());
            assertEquals(2, f.stats.attributed());
            assertEquals(Map.of("processing_error", 1L), f.stats.deadLetteredByReason());
            assertEquals(1, f.stats.batches(), "one timed pass: the batch and its isolated retry");
        }
    }
}
