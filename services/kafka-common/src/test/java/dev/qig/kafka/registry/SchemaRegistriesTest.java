package dev.qig.kafka.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

/** Which client a config yields. */
class SchemaRegistriesTest {

    @Test
    void mockUrlSelectsTheSharedScope() {
        try {
            SchemaRegistryClient client = SchemaRegistries.create(Map.of(SchemaRegistries.URL, "mock://factory-test"));
            assertSame(MockSchemaRegistry.scope("factory-test"), client);
        } finally {
            MockSchemaRegistry.drop("factory-test");
        }
    }

    @Test
    void httpUrlsSelectTheRestClientWithEveryBaseUrlAndPrefix() {
        SchemaRegistryClient client = SchemaRegistries.create(Map.of(SchemaRegistries.URL,
                " http://a:8081/ , https://b.example/apis/ccompat/v7/"));
        assertInstanceOf(RestSchemaRegistryClient.class, client);
        assertEquals("RestSchemaRegistryClient[http://a:8081, https://b.example/apis/ccompat/v7][auth=none]", client.toString());
    }

    @Test
    void badConfigsAreRefusedClearly() {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of()));
        assertTrue(missing.getMessage().contains(SchemaRegistries.URL), missing.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of(SchemaRegistries.URL, "http://a:1",
                SchemaRegistries.BASIC_AUTH_CREDENTIALS_SOURCE, "SASL_INHERIT")));
        assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of(SchemaRegistries.URL, "http://a:1",
                SchemaRegistries.BEARER_AUTH_CREDENTIALS_SOURCE, "STATIC_TOKEN")));
        assertThrows(IllegalArgumentException.class, () -> SchemaRegistries.create(Map.of(SchemaRegistries.URL, "http://a:1",
                SchemaRegistries.HTTP_READ_TIMEOUT_MS, "soon")));
    }
}
