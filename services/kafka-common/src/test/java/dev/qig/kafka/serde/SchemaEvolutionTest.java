package dev.qig.kafka.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryException;
import dev.qig.schemas.CalibrationSample;

/** Records written with CalibrationSample v1 (no {@code model}) read as v2, and what the registry lets evolve. */
class SchemaEvolutionTest {

    private static final String TOPIC = "qig.calibration-samples.v1";
    private static final String SUBJECT = TOPIC + "-value";

    private final String scope = "evolution-" + UUID.randomUUID();
    private final MockSchemaRegistry registry = MockSchemaRegistry.scope(scope);

    @AfterEach
    void drop() {
        MockSchemaRegistry.drop(scope);
    }

    static Schema v1() throws IOException {
        try (InputStream in = SchemaEvolutionTest.class.getResourceAsStream("/avro-evolution/CalibrationSample-v1.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void v1IsV2WithoutItsLastField() throws IOException {
        List<String> v2Fields = new ArrayList<>();
        CalibrationSample.getClassSchema().getFields().forEach(f -> v2Fields.add(f.name()));
        List<String> v1Fields = new ArrayList<>();
        v1().getFields().forEach(f -> v1Fields.add(f.name()));
        assertEquals("model", v2Fields.remove(v2Fields.size() - 1));
        assertEquals(v2Fields, v1Fields);
    }

    @Test
    void aV2ConsumerReadsRecordsWrittenWithV1() throws IOException {
        Schema v1 = v1();
        GenericRecord old = new GenericRecordBuilder(v1)
                .set("sampleId", "old-1").set("image", ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .set("prompt", "how many squares").set("answer", "two").set("domain", "cluttered")
                .set("source", "generator-v1").set("eventTime", 1_700_000_000_000L).build();

        byte[] bytes = new AvroSerializer<GenericRecord>(registry).serialize(TOPIC, old);
        assertEquals(registry.idOf(SUBJECT, v1), ByteBuffer.wrap(bytes, 1, 4).getInt(), "written with v1's id");

        CalibrationSample read = new AvroDeserializer<>(registry, CalibrationSample.class).deserialize(TOPIC, bytes);
        assertEquals("old-1", read.getSampleId());
        assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3}), read.getImage());
        assertNull(read.getImageUri());
        assertEquals("how many squares", read.getPrompt());
        assertEquals("two", read.getAnswer());
        assertEquals("cluttered", read.getDomain());
        assertEquals("generator-v1", read.getSource());
        assertEquals(Instant.ofEpochMilli(1_700_000_000_000L), read.getEventTime());
        assertNull(read.getModel(), "the field added in v2 takes its default");
    }

    @Test
    void v2RegistersAfterV1AndOldAndNewRecordsBothRead() throws IOException {
        Schema v1 = v1();
        int v1Id = registry.register(SUBJECT, v1);
        int v2Id = registry.register(SUBJECT, CalibrationSample.getClassSchema());
        assertNotEquals(v1Id, v2Id);
        assertEquals(v1Id, registry.idOf(SUBJECT, v1));

        byte[] newBytes = new AvroSerializer<CalibrationSample>(registry).serialize(TOPIC,
                CalibrationSample.newBuilder(AvroWireFormatTest.sample()).setModel("sha256:abc").build());
        assertEquals(v2Id, ByteBuffer.wrap(newBytes, 1, 4).getInt());
        assertEquals("sha256:abc", new AvroDeserializer<>(registry, CalibrationSample.class).deserialize(TOPIC, newBytes).getModel());
    }

    @Test
    void aNewRequiredFieldWithoutDefaultIsRefusedWith409() throws IOException {
        registry.register(SUBJECT, CalibrationSample.getClassSchema());
        Schema breaking = new Schema.Parser().parse(CalibrationSample.getClassSchema().toString()
                .replaceFirst("\"fields\":\\[", "\"fields\":[{\"name\":\"priority\",\"type\":\"int\"},"));

        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> registry.register(SUBJECT, breaking));
        assertEquals(409, e.status());
        assertEquals(409, e.errorCode());
        assertTrue(e.getMessage().startsWith("subject " + SUBJECT + ": schema is incompatible with an earlier version (409)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("priority"), e.getMessage());

        GenericData.Record record = new GenericData.Record(breaking);
        assertThrows(org.apache.kafka.common.errors.SerializationException.class,
                () -> new AvroSerializer<GenericRecord>(registry).serialize(TOPIC, record), "the serializer reports the refusal");
    }
}
