package dev.qig.publisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.core.model.Checkpoint;
import dev.qig.kafka.config.ConfigDocs;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

/** The publisher's settings: defaults, the s3 store's required keys, and a secret that never prints. */
class PublisherConfigTest {

    private static Map<String, Object> required() {
        Map<String, Object> props = new HashMap<>();
        props.put(PublisherConfig.BOOTSTRAP_SERVERS, "127.0.0.1:1");
        props.put(PublisherConfig.SCHEMA_REGISTRY_URL, "mock://publisher-config");
        return props;
    }

    @Test
    void defaults() {
        PublisherConfig c = new PublisherConfig(required());
        assertEquals("qig-publisher", c.getString(PublisherConfig.GROUP_ID));
        assertEquals(List.of(Checkpoint.SHIPPED), c.models());
        assertEquals(PublisherConfig.StoreType.FOLDER, c.storeType());
        assertEquals(Path.of("published"), c.storeFolder());
        assertEquals(PublisherConfig.Unservable.REFUSE, c.unservable());
        assertEquals(5, c.publishRetries());
        assertEquals(1000, c.publishRetryBackoffMs());
        assertEquals(0, c.throttleBytesPerSecond());
        assertEquals(9405, c.metricsPort());
        assertEquals("qig.published-models.v1", c.topic(dev.qig.kafka.topics.Topics.Topic.PUBLISHED_MODELS));
        assertEquals(Path.of("published").toAbsolutePath().normalize().toString(), c.destination());
    }

    @Test
    void theS3StoreNeedsABucketAndBothHalvesOfAKey() {
        Map<String, Object> props = required();
        props.put(PublisherConfig.STORE_TYPE, "S3");
        assertThrows(ConfigException.class, () -> new PublisherConfig(props));
        props.put(PublisherConfig.STORE_S3_BUCKET, "models");
        props.put(PublisherConfig.STORE_S3_PREFIX, "/qig/published/");
        props.put(PublisherConfig.STORE_S3_ENDPOINT, "http://minio:9000");
        PublisherConfig c = new PublisherConfig(props);
        assertEquals("s3://models/qig/published at http://minio:9000", c.destination());
        props.put(PublisherConfig.STORE_S3_ACCESS_KEY_ID, "AKIA-TEST");
        ConfigException e = assertThrows(ConfigException.class, () -> new PublisherConfig(props));
        assertTrue(e.getMessage().contains(PublisherConfig.STORE_S3_SECRET_ACCESS_KEY), e.getMessage());
        props.put(PublisherConfig.STORE_S3_SECRET_ACCESS_KEY, "very-secret-value");
        assertEquals("very-secret-value", new PublisherConfig(props).s3SecretAccessKey());
        props.put(PublisherConfig.EXPORT_UNSERVABLE, "fake-quantize");
        assertEquals(PublisherConfig.Unservable.FAKE_QUANTIZE, new PublisherConfig(props).unservable());
    }

    @Test
    void theSecretNeverPrints() {
        Map<String, Object> props = required();
        props.put(PublisherConfig.STORE_S3_ACCESS_KEY_ID, "AKIA-TEST");
        props.put(PublisherConfig.STORE_S3_SECRET_ACCESS_KEY, "very-secret-value");
        PublisherConfig c = new PublisherConfig(props);
        assertFalse(c.values().toString().contains("very-secret-value"));
        assertFalse(c.kafkaClientProperties().containsValue("very-secret-value"), "not handed to the Kafka clients");
        assertFalse(c.registryProperties().containsValue("very-secret-value"));
        assertTrue(ConfigDocs.markdown(PublisherConfig.definition()).contains("| `store.s3.secret.access.key` |"));
        assertThrows(ConfigException.class, () -> {
            Map<String, Object> bad = required();
            bad.put(PublisherConfig.EXPORT_UNSERVABLE, "publish-anyway");
            new PublisherConfig(bad);
        });
    }
}
