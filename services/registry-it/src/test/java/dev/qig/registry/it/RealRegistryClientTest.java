package dev.qig.registry.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.qig.kafka.registry.RestSchemaRegistryClient;
import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.registry.SchemaRegistryException;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.schemas.CalibrationSample;

/**
 * The project's REST registry client against a real registry server (Apicurio Registry's
 * Confluent-compatible API): registration, lookup by id and by schema, not-found answers, and
 * BACKWARD compatibility refusing a breaking change. Every test uses subjects of its own.
 */
@ExtendWith(RealRegistry.class)
class RealRegistryClientTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static RegistryServer server;

    @BeforeAll
    static void server(RegistryServer shared) {
        server = shared;
    }

    /** A client with an empty cache, so that its answers come from the server. */
    private static SchemaRegistryClient newClient() {
        SchemaRegistryClient client = SchemaRegistries.create(Map.of(SchemaRegistries.URL, server.url()));
        assertInstanceOf(RestSchemaRegistryClient.class, client);
        return client;
    }

    private static String subject(String name) {
        return "it-" + name + "-" + UUID.randomUUID().toString().substring(0, 8) + "-value";
    }

    private static Schema record(String fields) {
        return new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Reading\",\"namespace\":\"dev.qig.it\",\"fields\":["
                + fields + "]}");
    }

    private static final String V1_FIELDS = "{\"name\":\"sensor\",\"type\":\"string\"},{\"name\":\"value\",\"type\":\"double\"}";

    @Test
    void registersASchemaAndLooksItUpById() {
        String subject = subject("register");
        Schema schema = CalibrationSample.getClassSchema();
        SchemaRegistryClient writer = newClient();
        int id = writer.register(subject, schema);
        assertTrue(id > 0, "id " + id);
        assertEquals(id, writer.register(subject, schema), "registering again is a no-op with the same id");

        SchemaRegistryClient reader = newClient();
        assertEquals(schema, reader.schemaById(id), "the schema comes back as registered");
        assertEquals(id, reader.idOf(subject, schema));
        // The same content under another subject keeps its id (content ids, as Confluent's global ids).
        assertEquals(id, reader.register(subject("register-other"), schema));
    }

    @Test
    void unknownIdsAndSchemasAreNotFound() {
        SchemaRegistryClient client = newClient();
        SchemaRegistryException unknownId = assertThrows(SchemaRegistryException.class, () -> client.schemaById(987_654_321));
        assertTrue(unknownId.isNotFound(), unknownId.getMessage());
        assertEquals(40403, unknownId.errorCode(), unknownId.getMessage());

        String subject = subject("lookup");
        SchemaRegistryException unknownSubject = assertThrows(SchemaRegistryException.class,
                () -> client.idOf(subject, record(V1_FIELDS)));
        assertTrue(unknownSubject.isNotFound(), unknownSubject.getMessage());

        client.register(subject, record(V1_FIELDS));
        SchemaRegistryException unregistered = assertThrows(SchemaRegistryException.class,
                () -> client.idOf(subject, record(V1_FIELDS + ",{\"name\":\"unit\",\"type\":\"string\",\"default\":\"\"}")));
        assertTrue(unregistered.isNotFound(), unregistered.getMessage());
    }

    @Test
    void backwardCompatibilityRefusesABreakingChangeAndAcceptsANewFieldWithADefault() throws Exception {
        String subject = subject("backward");
        server.setCompatibility(subject, "BACKWARD");
        String config = server.send("GET", "/config/" + subject, null);
        assertTrue(config.contains("\"BACKWARD\""), config);
        SchemaRegistryClient client = newClient();
        int v1 = client.register(subject, record(V1_FIELDS));

        // A reader of the new schema could not read old records: a field without a default...
        Schema newFieldWithoutDefault = record(V1_FIELDS + ",{\"name\":\"unit\",\"type\":\"string\"}");
        SchemaRegistryException refused = assertThrows(SchemaRegistryException.class,
                () -> client.register(subject, newFieldWithoutDefault));
        assertEquals(409, refused.status(), refused.getMessage());
        // Apicurio sends error_code 0 with its 409: no Confluent code, and none in the message.
        assertEquals(SchemaRegistryException.NONE, refused.errorCode(), refused.getMessage());
        assertTrue(refused.getMessage().contains("(HTTP 409: Incompatible artifact"), refused.getMessage());
        assertTrue(refused.getMessage().contains("subject " + subject + ": schema is incompatible with an earlier version"),
                refused.getMessage());
        // ... or a changed type.
        Schema changedType = record("{\"name\":\"sensor\",\"type\":\"string\"},{\"name\":\"value\",\"type\":\"boolean\"}");
        assertEquals(409, assertThrows(SchemaRegistryException.class, () -> client.register(subject, changedType)).status());

        Schema newFieldWithDefault = record(V1_FIELDS + ",{\"name\":\"unit\",\"type\":\"string\",\"default\":\"C\"}");
        int v2 = client.register(subject, newFieldWithDefault);
        assertNotEquals(v1, v2);
        JsonNode versions = JSON.readTree(server.send("GET", "/subjects/" + subject + "/versions", null));
        assertEquals(List.of(1, 2), List.of(versions.get(0).asInt(), versions.get(1).asInt()), versions.toString());
        assertEquals(2, versions.size(), "the refused schemas were not stored: " + versions);
    }

    @Test
    void theSerializerSurfacesARefusedSchema() {
        String topic = subject("serializer").replaceAll("-value$", "");
        server.setCompatibility(topic + "-value", "BACKWARD");
        AvroSerializer<GenericRecord> serializer = new AvroSerializer<>(newClient());
        GenericRecord v1 = new GenericData.Record(record(V1_FIELDS));
        v1.put("sensor", "t1");
        v1.put("value", 21.5);
        assertEquals(0, serializer.serialize(topic, v1)[0]);

        GenericRecord breaking = new GenericData.Record(record(V1_FIELDS + ",{\"name\":\"unit\",\"type\":\"string\"}"));
        breaking.put("sensor", "t1");
        breaking.put("value", 21.5);
        breaking.put("unit", "C");
        SerializationException e = assertThrows(SerializationException.class, () -> serializer.serialize(topic, breaking));
        SchemaRegistryException cause = assertInstanceOf(SchemaRegistryException.class, e.getCause());
        assertEquals(409, cause.status());
        assertTrue(e.getMessage().contains("cannot register the schema of dev.qig.it.Reading under subject " + topic + "-value"),
                e.getMessage());
    }
}
