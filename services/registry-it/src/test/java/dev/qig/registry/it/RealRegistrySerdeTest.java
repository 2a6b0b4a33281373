package dev.qig.registry.it;

import dev.qig.kafka.serde.RandomRecords;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerde;
import dev.qig.kafka.serde.AvroSerdeConfig;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;

/**
 * The services' Avro serdes against a real registry server: every generated record type of
 * {@code dev.qig.schemas} written by {@link AvroSerializer} and read back by
 * {@link AvroDeserializer} with a second client (so the writer schema comes from the server),
 * the nested named types, an older writer schema read by today's class, and the serde built from
 * Kafka-style configs.
 */
@ExtendWith(RealRegistry.class)
class RealRegistrySerdeTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static RegistryServer server;

    @BeforeAll
    static void server(RegistryServer shared) {
        server = shared;
    }

    private static SchemaRegistryClient newClient() {
        return SchemaRegistries.create(Map.of(SchemaRegistries.URL, server.url()));
    }

    private static String topic(String name) {
        return "it." + name + "." + UUID.randomUUID().toString().substring(0, 8);
    }

    private static int schemaId(byte[] bytes) {
        assertEquals(0, bytes[0], "magic byte");
        return ByteBuffer.wrap(bytes, 1, 4).getInt();
    }

    @Test
    void everyRecordTypeRoundTripsThroughTheServer() throws Exception {
        List<Class<? extends SpecificRecord>> types = RandomRecords.recordClasses();
        assertTrue(types.contains(CalibrationSample.class) && types.contains(LayerStats.class) && types.contains(QuantConfig.class),
                types.toString());
        AvroSerializer<SpecificRecord> serializer = new AvroSerializer<>(newClient());
        SchemaRegistryClient readerClient = newClient();
        Random random = new Random(20_260_101);
        List<String> failures = new ArrayList<>();
        for (Class<? extends SpecificRecord> type : types) {
            String topic = topic(type.getSimpleName());
            AvroDeserializer<? extends SpecificRecord> deserializer = new AvroDeserializer<>(readerClient, type);
            for (int i = 0; i < 3; i++) {
                SpecificRecord record = RandomRecords.filled(type, random);
                byte[] bytes = serializer.serialize(topic, record);
                Object back = deserializer.deserialize(topic, bytes);
                if (!record.equals(back)) {
                    failures.add(type.getSimpleName() + " #" + i + ": wrote " + record + ", read " + back);
                }
            }
            Schema fromServer = newClient().schemaById(schemaId(serializer.serialize(topic, RandomRecords.filled(type, random))));
            if (!fromServer.equals(record(type).getSchema())) {
                failures.add(type.getSimpleName() + ": the server's schema differs from the class's: " + fromServer);
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    private static SpecificRecord record(Class<? extends SpecificRecord> type) {
        return RandomRecords.filled(type, new Random(1));
    }

    @Test
    void nestedNamedTypesAreRegisteredInlineAndComeBackWhole() throws Exception {
        AvroSerializer<SpecificRecord> serializer = new AvroSerializer<>(newClient());
        Random random = new Random(7);
        Map<Class<? extends SpecificRecord>, List<String>> nested = Map.of(
                LayerStats.class, List.of("dev.qig.schemas.EngineSettings", "dev.qig.schemas.PartialsKind",
                        "dev.qig.schemas.GroupStatistics", "dev.qig.schemas.GroupErrors"),
                QuantConfig.class, List.of("dev.qig.schemas.EngineSettings", "dev.qig.schemas.GroupChoice"));
        for (Map.Entry<Class<? extends SpecificRecord>, List<String>> e : nested.entrySet()) {
            String topic = topic(e.getKey().getSimpleName());
            SpecificRecord record = RandomRecords.filled(e.getKey(), random);
            int id = schemaId(serializer.serialize(topic, record));
            // One self-contained schema per subject, no references (as Confluent's serializer registers it).
            JsonNode answer = JSON.readTree(server.send("GET", "/schemas/ids/" + id, null));
            assertTrue(answer.path("references").isMissingNode() || answer.path("references").isEmpty(), answer.toString());
            Schema schema = newClient().schemaById(id);
            Map<String, Schema> named = new HashMap<>();
            collectNamed(schema, named);
            for (String name : e.getValue()) {
                assertTrue(named.containsKey(name), name + " in " + named.keySet());
                assertEquals(RandomRecords.schemaOf(name), named.get(name), name);
            }
            assertEquals(record, new AvroDeserializer<>(newClient(), e.getKey()).deserialize(topic, serializer.serialize(topic, record)));
        }
    }

    private static void collectNamed(Schema schema, Map<String, Schema> out) {
        switch (schema.getType()) {
            case RECORD -> {
                if (out.putIfAbsent(schema.getFullName(), schema) == null) {
                    schema.getFields().forEach(f -> collectNamed(f.schema(), out));
                }
            }
            case ENUM, FIXED -> out.putIfAbsent(schema.getFullName(), schema);
            case ARRAY -> collectNamed(schema.getElementType(), out);
            case MAP -> collectNamed(schema.getValueType(), out);
            case UNION -> schema.getTypes().forEach(t -> collectNamed(t, out));
            default -> { }
        }
    }

    /** CalibrationSample v1 (before the "model" field) written by an old producer, read by today's class. */
    @Test
    void anOlderWriterSchemaIsReadByTodaysClassUnderBackwardCompatibility() {
        String topic = topic("samples");
        server.setCompatibility(topic + "-value", "BACKWARD");
        Schema v2 = CalibrationSample.getClassSchema();
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : v2.getFields()) {
            if (!f.name().equals("model")) {
                fields.add(new Schema.Field(f, f.schema()));
            }
        }
        Schema v1 = Schema.createRecord(v2.getName(), v2.getDoc(), v2.getNamespace(), false, fields);
        Instant eventTime = Instant.parse("2026-01-02T03:04:05.678Z");
        GenericRecord old = new GenericData.Record(v1);
        old.put("sampleId", "old-1");
        old.put("image", null);
        old.put("imageUri", "file:/tmp/old-1.png");
        old.put("prompt", "what is red");
        old.put("answer", "the ball");
        old.put("domain", "clean");
        old.put("source", "old-producer");
        old.put("eventTime", eventTime.toEpochMilli());
        byte[] oldBytes = new AvroSerializer<GenericRecord>(newClient()).serialize(topic, old);

        CalibrationSample current = CalibrationSample.newBuilder().setSampleId("new-1").setImage(ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .setImageUri(null).setPrompt("what is blue").setAnswer("the sky").setDomain("lowlight").setSource("ingest")
                .setEventTime(eventTime.truncatedTo(ChronoUnit.MILLIS)).setModel("qig-vqa-small").build();
        // v2 only adds a field with a default: the registry accepts it under BACKWARD.
        byte[] newBytes = new AvroSerializer<CalibrationSample>(newClient()).serialize(topic, current);
        assertFalse(schemaId(oldBytes) == schemaId(newBytes), "two versions, two ids");

        AvroDeserializer<CalibrationSample> reader = new AvroDeserializer<>(newClient(), CalibrationSample.class);
        CalibrationSample fromOld = reader.deserialize(topic, oldBytes);
        assertEquals("old-1", fromOld.getSampleId());
        assertEquals("file:/tmp/old-1.png", fromOld.getImageUri());
        assertEquals(eventTime, fromOld.getEventTime());
        assertNull(fromOld.getModel(), "the field's default");
        assertEquals(current, reader.deserialize(topic, newBytes));
    }

    @Test
    void theSerdeBuiltFromConfigsRoundTrips() {
        String topic = topic("configured");
        try (AvroSerde<QuantConfig> serde = new AvroSerde<>()) {
            serde.configure(Map.of(SchemaRegistries.URL, server.url(),
                    AvroSerdeConfig.SPECIFIC_AVRO_VALUE_TYPE, QuantConfig.class.getName()), false);
            QuantConfig config = RandomRecords.filled(QuantConfig.class, new Random(3));
            assertEquals(config, serde.deserializer().deserialize(topic, serde.serializer().serialize(topic, config)));
        }
    }
}
