package dev.qig.publisher.internals;

import dev.qig.kafka.clients.ServiceClients;
import dev.qig.kafka.config.ServiceConfig;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.ModelPublished;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What has been published: per config id the content hashes announced for it, restored at start
 * from the published-models topic (read from its beginning to its end) and added to once each
 * ModelPublished is acknowledged. A redelivered promotion (a crash between the event and the
 * offset commit, or a promotion sent again) finds its config id here and publishes nothing.
 */
public final class PublishedModels {

    private static final Logger LOG = LoggerFactory.getLogger(PublishedModels.class);

    private final Map<String, Set<String>> byConfig = new ConcurrentHashMap<>();

    /** The key a checkpoint is committed under in the store. */
    public static String storeKey(String configId, String contentHash) {
        return configId + "/" + contentHash;
    }

    public boolean contains(String configId) {
        return byConfig.containsKey(configId);
    }

    /** The content hashes published for a config id (one, unless the exporter's output changed between versions). */
    public Set<String> contentHashes(String configId) {
        Set<String> hashes = byConfig.get(configId);
        return hashes == null ? Set.of() : Set.copyOf(hashes);
    }

    public int size() {
        return byConfig.size();
    }

    public void add(String configId, String contentHash) {
        byConfig.computeIfAbsent(configId, k -> ConcurrentHashMap.newKeySet()).add(contentHash);
    }

    /** Reads the topic from its beginning to the end offsets of now. */
    public void restore(ServiceConfig config, String topic, AvroDeserializer<ModelPublished> deserializer) {
        ServiceClients.readToEnd(config, topic, "qig-publisher-published-" + config.instanceId(), r -> {
            if (r.value() == null) {
                return; // nothing deletes published checkpoints today; a tombstone is not a publication
            }
            try {
                ModelPublished p = deserializer.deserialize(r.topic(), r.value());
                add(p.getConfigId(), p.getContentHash());
            } catch (RuntimeException e) {
                // Only publishers write this topic; a record that does not read is logged, not fatal.
                LOG.warn("unreadable ModelPublished at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
            }
        });
        LOG.info("{} configs published before this start", byConfig.size());
    }
}
