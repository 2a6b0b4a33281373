package dev.qig.kafka.serde;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class KeyFormatTest {

    private final String scope = "keys-" + UUID.randomUUID();
    private final SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
    private final KeyDeserializer keys = new KeyDeserializer();

    @Test
    void aStringKeyIsItsUtf8Bytes() {
        byte[] b = KeyFormat.of("STRING").serializer(registry).serialize("t", "model/w3a16/abc·1");
        assertArrayEquals("model/w3a16/abc·1".getBytes(StandardCharsets.UTF_8), b);
        assertEquals("model/w3a16/abc·1", keys.deserialize("t", b));
    }

    @Test
    void anAvroKeyIsWhatAnAvroReaderOfTheRegisteredSchemaReads() throws Exception {
        String key = "qig-vqa-small/w3a16/" + "x".repeat(100) + "/qig"; // a two-byte length
        byte[] b = KeyFormat.of("avro").serializer(registry).serialize("qig.configs.v1", key);
        assertEquals(0, b[0]);
        int id = ((b[1] & 0xff) << 24) | ((b[2] & 0xff) << 16) | ((b[3] & 0xff) << 8) | (b[4] & 0xff);
        Schema schema = registry.schemaById(id);
        assertEquals(id, registry.idOf("qig.configs.v1-key", Schema.create(Schema.Type.STRING)));
        Object read = new GenericDatumReader<>(schema).read(null, DecoderFactory.get().binaryDecoder(
                new ByteArrayInputStream(b, 5, b.length - 5), null));
        assertEquals(key, read.toString());
        assertEquals(key, keys.deserialize("qig.configs.v1", b));
        assertEquals("", keys.deserialize("t", KeyFormat.AVRO.serializer(registry).serialize("t", "")));
    }

    @Test
    void bytesStartingWithZeroThatAreNoAvroStringAreRefused() {
        assertThrows(SerializationException.class, () -> keys.deserialize("t", new byte[] {0, 0, 0, 0, 1, 8, 'a'}));
        assertThrows(SerializationException.class, () -> keys.deserialize("t", new byte[] {0, 1}));
        assertThrows(IllegalArgumentException.class, () -> KeyFormat.of("json"));
    }
}
