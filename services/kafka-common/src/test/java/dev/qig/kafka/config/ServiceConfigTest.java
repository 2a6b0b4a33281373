package dev.qig.kafka.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.kafka.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where settings come from and where they go: file < environment < overrides; client and registry keys pass through. */
class ServiceConfigTest {

    /** A service config with one key of its own, for the test. */
    static final class ExampleConfig extends ServiceConfig {
        static final ConfigDef DEFINITION = commonDefinition(Topics.Topic.SAMPLES)
                .define("round.samples", ConfigDef.Type.INT, 64, ConfigDef.Range.atLeast(1), ConfigDef.Importance.HIGH, "doc");

        ExampleConfig(Map<?, ?> props) {
            super(DEFINITION, props);
        }

        /** One that hands {@code state.dir} on, as the aggregator hands Kafka Streams its keys. */
        ExampleConfig(Map<?, ?> props, String handedOn) {
            super(DEFINITION, props, handedOn::equals);
        }
    }

    @TempDir
    Path dir;

    @Test
    void fileThenEnvironmentThenOverridesWin() throws Exception {
        Path file = dir.resolve("service.properties");
        Files.writeString(file, "bootstrap.servers=file:9092\nround.samples=8\nschema.registry.url=mock://file\n");
        Map<String, String> env = Map.of("QIG_ROUND_SAMPLES", "16", "QIG_SASL_MECHANISM", "PLAIN", "PATH", "/bin",
                "QIG_BASIC_AUTH_USER_INFO", "u:p", "QIG_SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION", "/etc/qig/registry.p12");
        Map<String, String> resolved = ConfigSources.resolve(ExampleConfig.DEFINITION, file, env,
                ConfigSources.parseAssignments(List.of("schema.registry.url=mock://cli")));
        ExampleConfig config = new ExampleConfig(resolved);
        assertEquals(16, config.getInt("round.samples"), "the environment wins over the file");
        assertEquals("mock://cli", config.getString(ServiceConfig.SCHEMA_REGISTRY_URL), "--set wins over everything");
        assertEquals(List.of("file:9092"), config.getList(ServiceConfig.BOOTSTRAP_SERVERS));
        assertEquals("qig.calibration-samples.v1", config.topic(Topics.Topic.SAMPLES));

        Map<String, Object> client = config.kafkaClientProperties();
        assertEquals("PLAIN", client.get("sasl.mechanism"), "a Kafka client key from the environment reaches the clients");
        assertEquals("file:9092", client.get("bootstrap.servers"));
        assertFalse(client.containsKey("round.samples"), "the service's own keys stay out of the clients");
        assertFalse(client.containsKey("basic.auth.user.info"), "registry credentials stay out of the Kafka clients");
        assertEquals("u:p", config.registryProperties().get("basic.auth.user.info"));
        assertFalse(client.containsKey("schema.registry.ssl.truststore.location"), "the registry's TLS stays out of the Kafka clients");
        assertEquals("/etc/qig/registry.p12", config.registryProperties().get("schema.registry.ssl.truststore.location"));
        assertFalse(env.keySet().stream().anyMatch(k -> resolved.containsKey(k)), "unrelated variables are ignored");
    }

    @Test
    void theEnvironmentSetsPassThroughKeysOnlyWhenTheServiceNamesThem() {
        Map<String, String> env = Map.of("QIG_STATE_DIR", "/var/lib/qig/streams", "QIG_SECURITY_PROTOCOL", "SASL_SSL",
                "QIG_SCHEMA_REGISTRY_URL", "mock://env", "QIG_BOOTSTRAP_SERVERS", "k:9092");
        Map<String, String> plain = ConfigSources.resolve(ExampleConfig.DEFINITION, List.of(), List.of("state.dir"), null,
                env, Map.of());
        assertFalse(plain.containsKey("state.dir"), "another service's key is not taken from the environment");
        assertEquals("SASL_SSL", plain.get("security.protocol"));
        Map<String, String> streams = ConfigSources.resolve(ExampleConfig.DEFINITION, List.of("state.dir"), null, env,
                Map.of());
        assertEquals("/var/lib/qig/streams", streams.get("state.dir"));
        assertEquals("/var/lib/qig/streams", new ExampleConfig(streams, "state.dir").kafkaClientProperties().get("state.dir"));
        assertEquals("state.dir", ConfigSources.envKeys(ExampleConfig.DEFINITION, List.of("state.dir")).get("QIG_STATE_DIR"));
        assertEquals("sasl.jaas.config", ConfigSources.envKeys(ExampleConfig.DEFINITION, List.of()).get("QIG_SASL_JAAS_CONFIG"));
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        ConfigException e = assertThrows(ConfigException.class, () -> new ExampleConfig(Map.of(
                "bootstrap.servers", "k:9092", "schema.registry.url", "mock://x", "round.samples", "0")));
        assertTrue(e.getMessage().contains("round.samples"), e.getMessage());
        ConfigException missing = assertThrows(ConfigException.class, () -> new ExampleConfig(Map.of(
                "schema.registry.url", "mock://x")));
        assertTrue(missing.getMessage().contains("bootstrap.servers"), missing.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ConfigSources.parseAssignments(List.of("no-equals-sign")));
        assertEquals("QIG_TOPIC_LAYER_STATS", ConfigSources.envName("topic.layer.stats"));
    }

    @Test
    void aMisspeltSettingIsRefusedNamingTheClosestKey() {
        Map<String, String> base = Map.of("bootstrap.servers", "k:9092", "schema.registry.url", "mock://x");
        Map<String, String> typo = new java.util.HashMap<>(base);
        typo.put("topics.partiton", "8");
        ConfigException e = assertThrows(ConfigException.class, () -> new ExampleConfig(typo));
        assertTrue(e.getMessage().contains("topics.partiton") && e.getMessage().contains("did you mean 'topics.partitions'"),
                e.getMessage());
        Map<String, String> client = new java.util.HashMap<>(base);
        client.put("securty.protocol", "SSL");
        ConfigException c = assertThrows(ConfigException.class, () -> new ExampleConfig(client));
        assertTrue(c.getMessage().contains("did you mean 'security.protocol'"), c.getMessage());
        Map<String, String> fine = new java.util.HashMap<>(base);
        fine.putAll(Map.of("security.protocol", "SSL", "max.poll.records", "5", "basic.auth.user.info", "u:p"));
        new ExampleConfig(fine); // Kafka client and registry keys pass
        assertThrows(ConfigException.class, () -> new ExampleConfig(Map.of("bootstrap.servers", "k:9092",
                "schema.registry.url", "mock://x", "state.dir", "/tmp")), "a library's key only where the service hands it on");

        // From the environment: another service's variable is ignored, a variable of no service is refused.
        Map<String, String> env = Map.of("QIG_BOOTSTRAP_SERVERS", "k:9092", "QIG_ROUND_SAMPLE", "8", "QIG_JAVA_OPTS", "-Xmx1g");
        IllegalArgumentException v = assertThrows(IllegalArgumentException.class, () -> ConfigSources.resolve(
                ExampleConfig.DEFINITION, List.of(), List.of("synthetic.schedule"), null, env, Map.of()));
        assertTrue(v.getMessage().contains("QIG_ROUND_SAMPLE") && v.getMessage().contains("did you mean QIG_ROUND_SAMPLES"),
                v.getMessage());
        Map<String, String> shared = Map.of("QIG_BOOTSTRAP_SERVERS", "k:9092", "QIG_SYNTHETIC_SCHEDULE", "5:clean",
                "QIG_JAVA_OPTS", "-Xmx1g");
        assertEquals(Map.of("bootstrap.servers", "k:9092"), ConfigSources.resolve(ExampleConfig.DEFINITION, List.of(),
                List.of("synthetic.schedule"), null, shared, Map.of()));
    }

    @Test
    void theGeneratedReferenceListsEveryKeyWithItsVariable() {
        String table = ConfigDocs.markdown(ExampleConfig.DEFINITION);
        for (String key : ExampleConfig.DEFINITION.names()) {
            assertTrue(table.contains("| `" + key + "` | `" + ConfigSources.envName(key) + "` |"), key + "\n" + table);
        }
        assertTrue(table.contains("mock://&lt;scope&gt;"), "angle brackets are escaped for Markdown");
    }
}
