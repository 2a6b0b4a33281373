package dev.qig.kafka.clients;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer loop of a service that does long work per record (an attributor worker, the
 * evaluator): poll a batch, process it (outputs sent and acknowledged), and only then commit its
 * offsets. When processing or the commit fails, the consumer is dropped and a new one joins the
 * group, so the uncommitted records come again: at least once. {@link #stop()} ends the loop from
 * any thread. The loop also carries the worker's life for health checks: ready once it polls,
 * failed for good when {@link #failed} is called.
 *
 * <p>Used from one thread (the worker's), except {@link #stop()}, {@link #isServing()},
 * {@link #awaitReady} and {@link #consumerMetrics()}.
 */
public final class AtLeastOnceLoop {

    /** Reads the next batch from the consumer; may return an empty list. */
    @FunctionalInterface
    public interface Poller {
        List<ConsumerRecord<byte[], byte[]>> poll(Consumer<byte[], byte[]> consumer, BooleanSupplier running);
    }

    /** Processes a batch; returns once every output is acknowledged, throws if one is not. */
    @FunctionalInterface
    public interface Processor {
        void process(List<ConsumerRecord<byte[], byte[]>> records) throws ExecutionException;
    }

    private static final Logger LOG = LoggerFactory.getLogger(AtLeastOnceLoop.class);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final String name;
    private final Supplier<? extends Consumer<byte[], byte[]>> consumers;
    private final Runnable onRejoin;
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile Consumer<byte[], byte[]> consumer;
    private volatile Throwable failure;

    /**
     * @param name      what the logs call the worker
     * @param consumers a new subscribed consumer of the group, at start and after each failure
     * @param onRejoin  called each time the consumer is replaced after a failure (a metric)
     */
    public AtLeastOnceLoop(String name, Supplier<? extends Consumer<byte[], byte[]>> consumers, Runnable onRejoin) {
        this.name = name;
        this.consumers = consumers;
        this.onRejoin = onRejoin;
    }

    /** One poll of the consumer: the poller of a service that processes what each poll returns. */
    public static List<ConsumerRecord<byte[], byte[]>> pollOnce(Consumer<byte[], byte[]> consumer, BooleanSupplier running) {
        List<ConsumerRecord<byte[], byte[]>> out = new java.util.ArrayList<>();
        consumer.poll(Duration.ofMillis(500)).forEach(out::add);
        return out;
    }

    /**
     * Joins the group and loops until {@link #stop()}; the worker calls it once its setup (models
     * loaded) is done. Returns when stopped; throws when the consumer cannot be created or is woken
     * up while running, and the worker then reports {@link #failed}.
     */
    public void run(Poller poller, Processor processor) {
        try {
            consumer = consumers.get();
            ready.countDown();
            while (running) {
                try {
                    List<ConsumerRecord<byte[], byte[]>> records = poller.poll(consumer, () -> running);
                    if (records.isEmpty()) {
                        continue;
                    }
                    processor.process(records);
                    consumer.commitSync(nextOffsets(records));
                } catch (WakeupException e) {
                    if (running) {
                        throw e;
                    }
                } catch (RuntimeException | ExecutionException e) {
                    if (!running) {
                        break;
                    }
                    // Outputs not acknowledged or offsets not committed: rejoin, and the records come again.
                    LOG.error("{}: batch failed; rejoining the group to read it again", name, e);
                    onRejoin.run();
                    consumer.close(CLOSE_TIMEOUT);
                    consumer = consumers.get();
                }
            }
        } finally {
            ready.countDown();
            Consumer<byte[], byte[]> c = consumer;
            if (c != null) {
                c.close(CLOSE_TIMEOUT);
            }
        }
    }

    /** Records that the worker stopped for good (setup or loop failed): health turns bad, {@link #awaitReady} throws. */
    public void failed(Throwable cause) {
        failure = cause;
        ready.countDown();
        LOG.error("{} stopped", name, cause);
    }

    /**
     * Waits until the worker polls.
     *
     * @return false on timeout
     * @throws IllegalStateException if it failed before it was ready
     */
    public boolean awaitReady(long timeout, TimeUnit unit) throws InterruptedException {
        boolean done = ready.await(timeout, unit);
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException(name + " failed to start: " + f.getMessage(), f);
        }
        return done;
    }

    /** True once the worker polls, until it fails or stops. */
    public boolean isServing() {
        return ready.getCount() == 0 && failure == null && consumer != null && running;
    }

    /** True until {@link #stop()}. */
    public boolean isRunning() {
        return running;
    }

    /** Ends the loop: wakes the consumer up if it is polling. */
    public void stop() {
        running = false;
        Consumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
    }

    /** The metrics of the current consumer (lag, fetches), empty before there is one. */
    public Map<MetricName, ? extends Metric> consumerMetrics() {
        Consumer<byte[], byte[]> c = consumer;
        return c == null ? Map.of() : c.metrics();
    }

    /** Per partition, the offset after the batch's last record: what a commit after the batch stores. */
    static Map<TopicPartition, OffsetAndMetadata> nextOffsets(List<ConsumerRecord<byte[], byte[]>> records) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.merge(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1),
                    (a, b) -> a.offset() >= b.offset() ? a : b);
        }
        return out;
    }
}
