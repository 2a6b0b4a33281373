package dev.qig.evaluator.internals;

import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.ActiveConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The active config of every (model, scheme), keyed {@code model/scheme} like the compacted
 * active-configs topic it is restored from at start (read from its beginning to its end, the latest
 * record of a key wins) and that every promotion writes to.
 */
public final class ActiveConfigs {

    private static final Logger LOG = LoggerFactory.getLogger(ActiveConfigs.class);

    private final Map<String, ActiveConfig> active = new ConcurrentHashMap<>();

    public static String key(String model, String scheme) {
        return model + "/" + scheme;
    }

    public ActiveConfig get(String model, String scheme) {
        return active.get(key(model, scheme));
    }

    /** Every active config (a snapshot). */
    public List<ActiveConfig> all() {
        return List.copyOf(active.values());
    }

    public void put(ActiveConfig config) {
        active.put(key(config.getModel(), config.getScheme()), config);
    }

    /** Reads the topic from its beginning to the end offsets of now. */
    public void restore(Map<String, Object> clientProperties, String topic, AvroDeserializer<ActiveConfig> deserializer,
                        String instanceId) {
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "qig-evaluator-active-" + instanceId);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(60))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (!end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value() == null) {
                        active.remove(r.key()); // a tombstone retires a (model, scheme)
                        continue;
                    }
                    try {
                        ActiveConfig c = deserializer.deserialize(r.topic(), r.value());
                        active.put(key(c.getModel(), c.getScheme()), c);
                    } catch (RuntimeException e) {
                        // Only evaluators write this topic; a record that does not read is logged, not fatal.
                        LOG.warn("unreadable active config at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                                e.getMessage());
                    }
                }
            }
        }
        active.forEach((k, c) -> LOG.info("active config of {}: {}", k, c.getConfig().getConfigId()));
    }
}
