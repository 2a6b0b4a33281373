package dev.qig.kafka.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The loop's delivery guarantee with fake consumers (Kafka's MockConsumer, one partition, the
 * group's committed offset shared between the consumers that follow each other): offsets are
 * committed only after a batch is processed, a failure in processing or in the commit brings a new
 * consumer that reads the uncommitted records again, and stop/failure show in the health state.
 */
class AtLeastOnceLoopTest {

    private static final TopicPartition PARTITION = new TopicPartition("samples", 0);
    private static final int RECORDS = 5;

    /** The consumer group's state as the broker would keep it: the committed offset, and the consumers created. */
    private static final class FakeGroup {
        volatile long committed;
        final List<FakeGroupConsumer> members = new CopyOnWriteArrayList<>();
        int commitsToRefuse;

        /** A member that starts at the committed offset; the first one gets the records in two polls, later ones at once. */
        FakeGroupConsumer join() {
            FakeGroupConsumer c = new FakeGroupConsumer(this);
            c.assign(List.of(PARTITION));
            c.updateBeginningOffsets(Map.of(PARTITION, 0L));
            c.seek(PARTITION, committed);
            if (members.isEmpty()) {
                c.schedulePollTask(() -> add(c, 0, 3));
                c.schedulePollTask(() -> add(c, 3, RECORDS));
            } else {
                long from = committed;
                c.schedulePollTask(() -> add(c, from, RECORDS));
            }
            members.add(c);
            return c;
        }

        private static void add(MockConsumer<byte[], byte[]> c, long from, long to) {
            for (long o = from; o < to; o++) {
                c.addRecord(new ConsumerRecord<>(PARTITION.topic(), PARTITION.partition(), o, null, new byte[] {(byte) o}));
            }
        }
    }

    /** A MockConsumer whose commits go to the fake group (or are refused, as after a rebalance). */
    private static final class FakeGroupConsumer extends MockConsumer<byte[], byte[]> {
        private final FakeGroup group;

        FakeGroupConsumer(FakeGroup group) {
            super("earliest");
            this.group = group;
        }

        @Override
        public synchronized void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets) {
            if (group.commitsToRefuse > 0) {
                group.commitsToRefuse--;
                throw new CommitFailedException("fake: the group rebalanced");
            }
            super.commitSync(offsets);
            group.committed = offsets.get(PARTITION).offset();
        }
    }

    private static List<Long> offsets(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().map(ConsumerRecord::offset).toList();
    }

    /** Runs the loop in a thread until the group has committed every record, then stops it. */
    private static void runUntilAllCommitted(AtLeastOnceLoop loop, FakeGroup group, AtLeastOnceLoop.Processor processor)
            throws InterruptedException {
        Thread t = new Thread(() -> loop.run(AtLeastOnceLoop::pollOnce, processor));
        t.start();
        assertTrue(loop.awaitReady(10, TimeUnit.SECONDS));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (group.committed < RECORDS && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(loop.isServing());
        loop.stop();
        t.join(10_000);
        assertFalse(t.isAlive(), "stop() ends the loop");
        assertFalse(loop.isServing());
    }

    @Test
    void commitsABatchOnlyAfterItIsProcessed() throws Exception {
        FakeGroup group = new FakeGroup();
        AtomicInteger rejoins = new AtomicInteger();
        AtLeastOnceLoop loop = new AtLeastOnceLoop("test worker", group::join, rejoins::incrementAndGet);
        List<List<Long>> batches = new CopyOnWriteArrayList<>();
        List<Long> committedWhileProcessing = new ArrayList<>();
        runUntilAllCommitted(loop, group, records -> {
            committedWhileProcessing.add(group.committed);
            batches.add(offsets(records));
        });
        assertEquals(List.of(List.of(0L, 1L, 2L), List.of(3L, 4L)), batches);
        assertEquals(List.of(0L, 3L), committedWhileProcessing, "nothing of a batch is committed before it is processed");
        assertEquals(RECORDS, group.committed);
        assertEquals(0, rejoins.get());
        assertEquals(1, group.members.size());
        assertTrue(group.members.get(0).closed(), "the consumer is closed when the loop ends");
    }

    @Test
    void aFailedBatchIsReadAgainByANewConsumerAndCommittedWorkIsNot() throws Exception {
        FakeGroup group = new FakeGroup();
        AtomicInteger rejoins = new AtomicInteger();
        AtLeastOnceLoop loop = new AtLeastOnceLoop("test worker", group::join, rejoins::incrementAndGet);
        List<List<Long>> batches = new CopyOnWriteArrayList<>();
        AtomicInteger failures = new AtomicInteger(1);
        runUntilAllCommitted(loop, group, records -> {
            batches.add(offsets(records));
            if (records.get(0).offset() == 3 && failures.getAndDecrement() > 0) {
                throw new ExecutionException("fake: an output was not acknowledged", new RuntimeException());
            }
        });
        assertEquals(List.of(List.of(0L, 1L, 2L), List.of(3L, 4L), List.of(3L, 4L)), batches);
        assertEquals(RECORDS, group.committed);
        assertEquals(1, rejoins.get());
        assertEquals(2, group.members.size());
        assertTrue(group.members.get(0).closed(), "the failed consumer is closed before the new one joins");
        assertTrue(group.members.get(1).closed());
    }

    @Test
    void aRefusedCommitAlsoBringsTheBatchAgain() throws Exception {
        FakeGroup group = new FakeGroup();
        group.commitsToRefuse = 1;
        AtomicInteger rejoins = new AtomicInteger();
        AtLeastOnceLoop loop = new AtLeastOnceLoop("test worker", group::join, rejoins::incrementAndGet);
        List<List<Long>> batches = new CopyOnWriteArrayList<>();
        runUntilAllCommitted(loop, group, records -> batches.add(offsets(records)));
        assertEquals(List.of(List.of(0L, 1L, 2L), List.of(0L, 1L, 2L, 3L, 4L)), batches);
        assertEquals(1, rejoins.get());
    }

    @Test
    void aWorkerThatFailedIsNotServingAndSaysWhy() {
        AtLeastOnceLoop loop = new AtLeastOnceLoop("test worker", () -> {
            throw new AssertionError("never joins");
        }, () -> { });
        assertFalse(loop.isServing(), "not serving before it runs");
        loop.failed(new java.io.IOException("fake: the model does not load"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> loop.awaitReady(1, TimeUnit.SECONDS));
        assertTrue(e.getMessage().contains("test worker failed to start: fake: the model does not load"), e.getMessage());
        assertFalse(loop.isServing());
        assertTrue(loop.consumerMetrics().isEmpty());
    }

    @Test
    void theCommittedOffsetOfABatchIsOnePastItsLastRecordPerPartition() {
        TopicPartition other = new TopicPartition("samples", 1);
        List<ConsumerRecord<byte[], byte[]>> batch = List.of(
                new ConsumerRecord<>("samples", 0, 7, null, null),
                new ConsumerRecord<>("samples", 1, 2, null, null),
                new ConsumerRecord<>("samples", 0, 9, null, null),
                new ConsumerRecord<>("samples", 0, 8, null, null));
        Map<TopicPartition, OffsetAndMetadata> next = AtLeastOnceLoop.nextOffsets(batch);
        assertEquals(Map.of(PARTITION, new OffsetAndMetadata(10), other, new OffsetAndMetadata(3)), next);
    }
}
