package dev.qig.attributor.internals;

import dev.qig.quant.CalibrationPlan;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.serde.AvroDeserializer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import dev.qig.kafka.serde.KeyDeserializer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The latest calibration plan of every round key, read from the compacted plans topic from its
 * beginning by a thread of its own (no consumer group: every attributor reads every plan). Workers
 * take the plan of their round key before each batch and check after it whether a newer one came.
 */
public final class PlanCache implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PlanCache.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final AvroDeserializer<dev.qig.schemas.CalibrationPlan> deserializer;
    private final String topic;
    private final Map<String, CalibrationPlan> plans = new ConcurrentHashMap<>();
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean running = true;

    public PlanCache(Map<String, Object> clientProperties, String topic,
                     AvroDeserializer<dev.qig.schemas.CalibrationPlan> deserializer, String instanceId) {
        Map<String, Object> props = new java.util.HashMap<>(clientProperties);
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "qig-attributor-plans-" + instanceId);
        this.consumer = new KafkaConsumer<>(props, new KeyDeserializer(), new ByteArrayDeserializer());
        this.deserializer = deserializer;
        this.topic = topic;
        this.thread = new Thread(this::run, "qig-attributor-plans");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** Waits until every plan that was in the topic at start has been read. */
    public boolean awaitCaughtUp(long timeout, TimeUnit unit) throws InterruptedException {
        return caughtUp.await(timeout, unit);
    }

    /** The latest plan of a round key, or the empty plan (version 0) before the first. */
    public CalibrationPlan current(RoundKey key) {
        return plans.getOrDefault(key.toString(), CalibrationPlan.empty());
    }

    private void run() {
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(60))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    accept(r);
                }
                if (caughtUp.getCount() > 0 && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                    caughtUp.countDown();
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("the plan reader stopped; workers keep the plans they have", e);
        } finally {
            consumer.close();
        }
    }

    private void accept(ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) {
            return;
        }
        try {
            CalibrationPlan plan = Records.plan(deserializer.deserialize(r.topic(), r.value()));
            plans.merge(r.key(), plan, (old, neu) -> neu.version() >= old.version() ? neu : old);
            LOG.info("plan {} of {}", plan.version(), r.key());
        } catch (RuntimeException e) {
            // Only the aggregator writes plans; a record that does not read is logged, not fatal.
            LOG.warn("unreadable plan at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
