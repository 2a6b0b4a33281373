package dev.qig.app.pipeline;

import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.topics.Topics.Topic;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.CalibrationPlan;
import dev.qig.schemas.DriftEvent;
import dev.qig.schemas.EvalResult;
import dev.qig.schemas.ModelPublished;
import dev.qig.schemas.QuantConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
 * config (read committed: only what the aggregator's transactions committed), the drift events,
 * evaluation results, promotions and published models, and the dead letters by reason. What {@code qig stream},
 * {@code qig demo}, the stream benchmark and the end-to-end tests wait on.
 */
final class TopicWatcher implements AutoCloseable {

    private final KafkaConsumer<String, byte[]> consumer;
    private final AvroDeserializer<CalibrationPlan> plans;
    private final AvroDeserializer<QuantConfig> configs;
    private final AvroDeserializer<DriftEvent> driftEvents;
    private final AvroDeserializer<EvalResult> evalResults;
    private final AvroDeserializer<ActiveConfig> activeConfigs;
    private final AvroDeserializer<ModelPublished> publishedModels;
    private final Map<Topic, String> topics;
    private final Map<String, CalibrationPlan> planByKeyAndVersion = new ConcurrentHashMap<>();
    private final Map<String, QuantConfig> configByKeyAndRound = new ConcurrentHashMap<>();
    private final Map<String, Long> deadLetters = new ConcurrentHashMap<>();
    private final List<DriftEvent> drifts = Collections.synchronizedList(new ArrayList<>());
    private final List<EvalResult> evaluations = Collections.synchronizedList(new ArrayList<>());
    private final List<ActiveConfig> promotions = Collections.synchronizedList(new ArrayList<>());
    private final List<ModelPublished> published = Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;
    private volatile boolean running = true;

    /** Follows the given topics (any of plans, configs, drift events, eval results, active configs, published models, DLQ) by their names. */
    TopicWatcher(String bootstrapServers, SchemaRegistryClient registry, Map<Topic, String> topics) {
        this.consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrapServers,
                "group.id", "qig-watch-" + UUID.randomUUID(), "auto.offset.reset", "earliest",
                "isolation.level", "read_committed", "enable.auto.commit", false,
                // Topics a service creates after the watcher subscribed are found within a second.
                "metadata.max.age.ms", 1000), new StringDeserializer(),
                new ByteArrayDeserializer());
        this.plans = new AvroDeserializer<>(registry, CalibrationPlan.class);
        this.configs = new AvroDeserializer<>(registry, QuantConfig.class);
        this.driftEvents = new AvroDeserializer<>(registry, DriftEvent.class);
        this.evalResults = new AvroDeserializer<>(registry, EvalResult.class);
        this.activeConfigs = new AvroDeserializer<>(registry, ActiveConfig.class);
        this.publishedModels = new AvroDeserializer<>(registry, ModelPublished.class);
        this.topics = Map.copyOf(topics);
        this.consumer.subscribe(List.copyOf(topics.values()));
        this.thread = new Thread(this::run, "qig-watch");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    accept(r);
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    private void accept(ConsumerRecord<String, byte[]> r) {
        if (r.topic().equals(topics.get(Topic.PLANS))) {
            CalibrationPlan p = plans.deserialize(r.topic(), r.value());
            planByKeyAndVersion.put(r.key() + "#" + p.getVersion(), p);
        } else if (r.topic().equals(topics.get(Topic.CONFIGS))) {
            QuantConfig c = configs.deserialize(r.topic(), r.value());
            configByKeyAndRound.put(r.key() + "#" + c.getRound(), c);
        } else if (r.topic().equals(topics.get(Topic.DRIFT_EVENTS))) {
            drifts.add(driftEvents.deserialize(r.topic(), r.value()));
        } else if (r.topic().equals(topics.get(Topic.EVAL_RESULTS))) {
            evaluations.add(evalResults.deserialize(r.topic(), r.value()));
        } else if (r.topic().equals(topics.get(Topic.ACTIVE_CONFIGS))) {
            promotions.add(activeConfigs.deserialize(r.topic(), r.value()));
        } else if (r.topic().equals(topics.get(Topic.PUBLISHED_MODELS))) {
            published.add(publishedModels.deserialize(r.topic(), r.value()));
        } else if (r.topic().equals(topics.get(Topic.DLQ))) {
            String reason = DeadLetters.header(r.headers(), DeadLetters.REASON);
            deadLetters.merge(reason == null ? "unknown" : reason, 1L, Long::sum);
        }
    }

    CalibrationPlan plan(RoundKey key, long version) {
        return planByKeyAndVersion.get(key + "#" + version);
    }

    /** The configs of a round by method, once at least {@code methods} of them are here; null before. */
    Map<String, QuantConfig> configs(RoundKey key, long round, int methods) {
        Map<String, QuantConfig> out = new TreeMap<>();
        configByKeyAndRound.forEach((k, c) -> {
            if (k.startsWith(key + "/") && c.getRound() == round) {
                out.put(c.getMethod(), c);
            }
        });
        return out.size() >= methods ? out : null;
    }

    Map<String, Long> deadLetters() {
        return new TreeMap<>(deadLetters);
    }

    /** Every config seen, in the order read. */
    List<QuantConfig> allConfigs() {
        List<QuantConfig> out = new ArrayList<>(configByKeyAndRound.values());
        out.sort(java.util.Comparator.comparingLong(QuantConfig::getRound).thenComparing(QuantConfig::getMethod));
        return out;
    }

    List<DriftEvent> driftEvents() {
        synchronized (drifts) {
            return List.copyOf(drifts);
        }
    }

    List<EvalResult> evalResults() {
        synchronized (evaluations) {
            return List.copyOf(evaluations);
        }
    }

    /** Every promotion, in the order made. */
    List<ActiveConfig> promotions() {
        synchronized (promotions) {
            return List.copyOf(promotions);
        }
    }

    /** Every ModelPublished event, in the order read. */
    List<ModelPublished> published() {
        synchronized (published) {
            return List.copyOf(published);
        }
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
