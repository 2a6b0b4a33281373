package dev.qig.app;

import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.QuantConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Follows the pipeline's outputs from the side, as any consumer of the topics would: every plan and
 * config (read committed: only what the aggregator's transactions committed), and the dead letters by
 * reason. What {@code qig stream}, the stream benchmark and the end-to-end tests wait on.
 */
final class TopicWatcher implements AutoCloseable {

    private final KafkaConsumer<String, byte[]> consumer;
    private final AvroDeserializer<CalibrationPlan> plans;
    private final AvroDeserializer<QuantConfig> configs;
    private final String plansTopic;
    private final String configsTopic;
    private final String dlqTopic;
    private final Map<String, CalibrationPlan> planByKeyAndVersion = new ConcurrentHashMap<>();
    private final Map<String, QuantConfig> configByKeyAndRound = new ConcurrentHashMap<>();
    private final Map<String, Long> deadLetters = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    TopicWatcher(String bootstrapServers, SchemaRegistryClient registry, String plansTopic, String configsTopic,
                 String dlqTopic) {
        this.consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrapServers,
                "group.id", "qig-watch-" + UUID.randomUUID(), "auto.offset.reset", "earliest",
                "isolation.level", "read_committed", "enable.auto.commit", false), new StringDeserializer(),
                new ByteArrayDeserializer());
        this.plans = new AvroDeserializer<>(registry, CalibrationPlan.class);
        this.configs = new AvroDeserializer<>(registry, QuantConfig.class);
        this.plansTopic = plansTopic;
        this.configsTopic = configsTopic;
        this.dlqTopic = dlqTopic;
        this.consumer.subscribe(List.of(plansTopic, configsTopic, dlqTopic));
        this.thread = new Thread(this::run, "qig-watch");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (r.topic().equals(plansTopic)) {
                        CalibrationPlan p = plans.deserialize(r.topic(), r.value());
                        planByKeyAndVersion.put(r.key() + "#" + p.getVersion(), p);
                    } else if (r.topic().equals(configsTopic)) {
                        QuantConfig c = configs.deserialize(r.topic(), r.value());
                        configByKeyAndRound.put(r.key() + "#" + c.getRound(), c);
                    } else if (r.topic().equals(dlqTopic)) {
                        String reason = DeadLetters.header(r.headers(), DeadLetters.REASON);
                        deadLetters.merge(reason == null ? "unknown" : reason, 1L, Long::sum);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    CalibrationPlan plan(RoundKey key, long version) {
        return planByKeyAndVersion.get(key + "#" + version);
    }

    /** The configs of one round, by method id, once all of them are there (else null). */
    Map<String, QuantConfig> configs(RoundKey key, long round, int methods) {
        Map<String, QuantConfig> out = new TreeMap<>();
        configByKeyAndRound.forEach((k, c) -> {
            if (k.startsWith(key + "/") && c.getRound() == round) {
                out.put(c.getMethod(), c);
            }
        });
        return out.size() == methods ? out : null;
    }

    Map<String, Long> deadLetters() {
        return new TreeMap<>(deadLetters);
    }

    /** Waits for a value (checked every 100 ms), calling {@code tick} about every 500 ms meanwhile. */
    static <T> T await(Supplier<T> value, Duration timeout, Runnable tick, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int i = 0; System.nanoTime() < deadline; i++) {
            T v = value.get();
            if (v != null) {
                return v;
            }
            if (i % 5 == 0) {
                tick.run();
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
