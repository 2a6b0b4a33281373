package dev.qig.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.kafka.config.ConfigDocs;
import dev.qig.kafka.config.ConfigSources;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class IngestConfigTest {

    private static Map<String, String> required() {
        return Map.of("bootstrap.servers", "localhost:9092", "schema.registry.url", "mock://ingest-config-test");
    }

    private static IngestConfig config(Map<String, String> extra) {
        Map<String, String> props = new HashMap<>(required());
        props.putAll(extra);
        return new IngestConfig(props);
    }

    @Test
    void defaults() {
        IngestConfig c = config(Map.of());
        assertEquals(IngestConfig.SourceKind.SYNTHETIC, c.source());
        assertEquals(IngestConfig.DEFAULT_SCHEDULE, String.join(",", c.schedule().stream().map(Object::toString).toList()));
        assertEquals(2026L, c.seed());
        assertEquals(0.0, c.rate());
        assertEquals("qig-ingest", c.sourceName());
        assertNull(c.model(), "empty model means every model");
    }

    @Test
    void environmentVariableReachesTheConfig() {
        Map<String, String> env = Map.of(
                "QIG_BOOTSTRAP_SERVERS", "localhost:9092",
                "QIG_SCHEMA_REGISTRY_URL", "mock://ingest-config-test",
                "QIG_SYNTHETIC_SCHEDULE", "clean:3,lowlight:2",
                "QIG_MODEL", "qig-vqa-small",
                "UNRELATED", "x");
        IngestConfig c = new IngestConfig(ConfigSources.resolve(IngestConfig.definition(), null, env, Map.of()));
        assertEquals(List.of(new IngestConfig.Segment(Domain.CLEAN, 3), new IngestConfig.Segment(Domain.LOWLIGHT, 2)),
                c.schedule());
        assertEquals("qig-vqa-small", c.model());
    }

    @Test
    void badScheduleIsRefusedNamingKeyAndPart() {
        for (String bad : List.of("clean:x", "clean", "fog:3", "clean:0", "clean:3,", "")) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> config(Map.of(IngestConfig.SYNTHETIC_SCHEDULE, bad)), bad);
            assertTrue(e.getMessage().contains(IngestConfig.SYNTHETIC_SCHEDULE), e.getMessage());
        }
        ConfigException e = assertThrows(ConfigException.class,
                () -> config(Map.of(IngestConfig.SYNTHETIC_SCHEDULE, "clean:3,lowlight:x")));
        assertTrue(e.getMessage().contains("'lowlight:x'"), "names the bad segment: " + e.getMessage());
    }

    @Test
    void folderSourceNeedsAPath() {
        ConfigException e = assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.SOURCE, "folder")));
        assertTrue(e.getMessage().contains(IngestConfig.FOLDER_PATH), e.getMessage());
        IngestConfig c = config(Map.of(IngestConfig.SOURCE, "Folder", IngestConfig.FOLDER_PATH, "/data/samples"));
        assertEquals(IngestConfig.SourceKind.FOLDER, c.source());
    }

    @Test
    void jsonlSourceNeedsAPath() {
        ConfigException e = assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.SOURCE, "jsonl")));
        assertTrue(e.getMessage().contains(IngestConfig.JSONL_PATH), e.getMessage());
        assertTrue(e.getMessage().contains("source=jsonl"), e.getMessage());
        ConfigException blank = assertThrows(ConfigException.class,
                () -> config(Map.of(IngestConfig.SOURCE, "jsonl", IngestConfig.JSONL_PATH, "  ")));
        assertTrue(blank.getMessage().contains(IngestConfig.JSONL_PATH), blank.getMessage());
        // folder.path does not stand in for it, nor the other way round
        assertThrows(ConfigException.class,
                () -> config(Map.of(IngestConfig.SOURCE, "jsonl", IngestConfig.FOLDER_PATH, "/data/samples")));
        assertThrows(ConfigException.class,
                () -> config(Map.of(IngestConfig.SOURCE, "folder", IngestConfig.JSONL_PATH, "/data/vqa.jsonl")));

        IngestConfig c = config(Map.of(IngestConfig.SOURCE, "JSONL", IngestConfig.JSONL_PATH, " /data/vqa.jsonl "));
        assertEquals(IngestConfig.SourceKind.JSONL, c.source());
        assertEquals("jsonl", c.source().id());
        assertEquals(java.nio.file.Path.of("/data/vqa.jsonl"), c.jsonlPath());
        // Only needed for its source: the synthetic default ignores it.
        assertEquals(IngestConfig.SourceKind.SYNTHETIC, config(Map.of()).source());
    }

    @Test
    void jsonlPathComesFromTheEnvironment() {
        Map<String, String> env = Map.of(
                "QIG_BOOTSTRAP_SERVERS", "localhost:9092",
                "QIG_SCHEMA_REGISTRY_URL", "mock://ingest-config-test",
                "QIG_SOURCE", "jsonl",
                "QIG_JSONL_PATH", "/data/vqa.jsonl");
        IngestConfig c = new IngestConfig(ConfigSources.resolve(IngestConfig.definition(), null, env, Map.of()));
        assertEquals(IngestConfig.SourceKind.JSONL, c.source());
        assertEquals(java.nio.file.Path.of("/data/vqa.jsonl"), c.jsonlPath());
    }

    @Test
    void otherBadValuesAreRefused() {
        assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.SOURCE, "kafka")));
        assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.RATE, "-1")));
        assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.RATE, "NaN")));
        assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.SOURCE_NAME, "")));
        assertThrows(ConfigException.class, () -> config(Map.of(IngestConfig.SYNTHETIC_SEED, "seven")));
    }

    @Test
    void ingestKeysStayOutOfTheKafkaClientsAndAreDocumented() {
        Map<String, Object> client = config(Map.of(IngestConfig.RATE, "5", "linger.ms", "20")).kafkaClientProperties();
        assertFalse(client.containsKey(IngestConfig.RATE));
        assertEquals("20", client.get("linger.ms"));
        String docs = ConfigDocs.markdown(IngestConfig.definition());
        for (String key : List.of(IngestConfig.SOURCE, IngestConfig.SYNTHETIC_SCHEDULE, IngestConfig.SYNTHETIC_SEED,
                IngestConfig.FOLDER_PATH, IngestConfig.JSONL_PATH, IngestConfig.RATE, IngestConfig.SOURCE_NAME, IngestConfig.MODEL)) {
            assertTrue(docs.contains("`" + key + "`"), key);
        }
    }
}
