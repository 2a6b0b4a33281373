package dev.qig.evaluator.internals;

import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.ActiveConfig;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The active config of every (model, scheme), keyed {@code model/scheme} like the compacted
 * active-configs topic it is restored from at start (read from its beginning to its end, the latest
 * record of a key wins) and that every promotion writes to.
 */
public final class ActiveConfigCache {

    private static final Logger LOG = LoggerFactory.getLogger(ActiveConfigCache.class);

    private static final dev.qig.kafka.serde.KeyDeserializer KEYS = new dev.qig.kafka.serde.KeyDeserializer();
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
    public void restore(ServiceConfig config, String topic, AvroDeserializer<ActiveConfig> deserializer) {
        ServiceClients.readToEnd(config, topic, "qig-evaluator-active-" + config.instanceId(), r -> {
            try {
                if (r.value() == null) {
                    if (r.key() != null) {
                        active.remove(KEYS.deserialize(r.topic(), r.key())); // a tombstone retires a (model, scheme)
                    }
                    return;
                }
                ActiveConfig c = deserializer.deserialize(r.topic(), r.value());
                active.put(key(c.getModel(), c.getScheme()), c);
            } catch (RuntimeException e) {
                // Only evaluators write this topic; a record that does not read is logged, not fatal.
                LOG.warn("unreadable active config at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
            }
        });
        active.forEach((k, c) -> LOG.info("active config of {}: {}", k, c.getConfig().getConfigId()));
    }
}
