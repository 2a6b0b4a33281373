package dev.qig.kafka.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.registry.SchemaRegistryException;
import dev.qig.kafka.serde.AvroDecodingException.Kind;
import dev.qig.schemas.CalibrationSample;

/** Every way bytes can fail to decode, each with its own Kind and a message naming topic and id. */
class AvroDecodingErrorsTest {

    private static final String TOPIC = "qig.calibration-samples.v1";

    private final String scope = "errors-" + UUID.randomUUID();
    private final MockSchemaRegistry registry = MockSchemaRegistry.scope(scope);
    private final AvroDeserializer<CalibrationSample> deserializer = new AvroDeserializer<>(registry, CalibrationSample.class);

    @AfterEach
    void drop() {
        MockSchemaRegistry.drop(scope);
    }

    private byte[] valid() {
        return new AvroSerializer<CalibrationSample>(registry).serialize(TOPIC, AvroWireFormatTest.sample());
    }

    private AvroDecodingException failure(byte[] bytes, Kind kind) {
        AvroDecodingException e = assertThrows(AvroDecodingException.class, () -> deserializer.deserialize(TOPIC, bytes));
        assertEquals(kind, e.kind(), e.getMessage());
        assertEquals(TOPIC, e.topic());
        assertTrue(e.getMessage().startsWith("topic " + TOPIC + ": "), e.getMessage());
        assertInstanceOf(SerializationException.class, e);
        return e;
    }

    @Test
    void emptyAndShortBytesAreNotTheWireFormat() {
        AvroDecodingException empty = failure(new byte[0], Kind.NOT_WIRE_FORMAT);
        assertTrue(empty.getMessage().contains("0 bytes are too short"), empty.getMessage());
        assertEquals(AvroDecodingException.NO_SCHEMA_ID, empty.schemaId());
        AvroDecodingException shortOne = failure(new byte[] {0, 0, 0, 1}, Kind.NOT_WIRE_FORMAT);
        assertTrue(shortOne.getMessage().contains("4 bytes are too short"), shortOne.getMessage());
    }

    @Test
    void anotherMagicByteIsNotTheWireFormat() {
        byte[] bytes = valid();
        bytes[0] = 1;
        assertTrue(failure(bytes, Kind.NOT_WIRE_FORMAT).getMessage().contains("magic byte 0x01"));
        byte[] json = "{\"sampleId\":\"s-1\"}".getBytes(StandardCharsets.UTF_8);
        assertTrue(failure(json, Kind.NOT_WIRE_FORMAT).getMessage().contains("magic byte 0x7b"));
    }

    @Test
    void anUnregisteredIdIsUnknown() {
        byte[] bytes = valid();
        ByteBuffer.wrap(bytes).putInt(1, 4242);
        AvroDecodingException e = failure(bytes, Kind.UNKNOWN_SCHEMA_ID);
        assertEquals(4242, e.schemaId());
        assertTrue(e.getMessage().contains("schema id 4242"), e.getMessage());
    }

    @Test
    void truncatedAvroIsCorrupt() {
        byte[] bytes = valid();
        AvroDecodingException e = failure(Arrays.copyOf(bytes, bytes.length - 3), Kind.CORRUPT_AVRO);
        assertEquals(1, e.schemaId());
        assertTrue(e.getMessage().contains("not valid Avro for writer schema id 1 (dev.qig.schemas.CalibrationSample)"), e.getMessage());
        assertTrue(e.getMessage().contains("EOFException"), e.getMessage());
        failure(new byte[] {0, 0, 0, 0, 1}, Kind.CORRUPT_AVRO);
    }

    @Test
    void aBadUnionIndexIsCorrupt() {
        valid();
        // sampleId "x" (zig-zag length 2, 'x'), then union index 5 for image, which has two branches.
        byte[] bytes = {0, 0, 0, 0, 1, 2, 'x', 10};
        assertEquals(1, failure(bytes, Kind.CORRUPT_AVRO).schemaId());
    }

    @Test
    void bytesAfterTheRecordAreCorrupt() {
        byte[] bytes = valid();
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 2);
        assertTrue(failure(longer, Kind.CORRUPT_AVRO).getMessage().contains("left over"));
    }

    @Test
    void aWriterSchemaTheClassCannotReadIsIncompatible() {
        // Same record name, but without fields the reader needs and has no default for.
        Schema other = SchemaBuilder.record("CalibrationSample").namespace("dev.qig.schemas").fields()
                .requiredString("sampleId").endRecord();
        GenericRecord record = new GenericData.Record(other);
        record.put("sampleId", "s-1");
        byte[] bytes = new AvroSerializer<GenericRecord>(registry).serialize("elsewhere", record);

        AvroDecodingException e = failure(bytes, Kind.INCOMPATIBLE_SCHEMA);
        assertEquals(1, e.schemaId());
        assertTrue(e.getMessage().contains("writer schema id 1"), e.getMessage());
        assertTrue(e.getMessage().contains("cannot be read as dev.qig.schemas.CalibrationSample"), e.getMessage());
        assertTrue(e.getMessage().contains("prompt"), e.getMessage());
    }

    @Test
    void anUnreachableRegistryIsNotTheRecordsFault() {
        SchemaRegistryClient down = new SchemaRegistryClient() {
            @Override
            public int register(String subject, Schema schema) {
                throw new UnsupportedOperationException();
            }

            @Override
            public int idOf(String subject, Schema schema) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Schema schemaById(int id) {
                throw new SchemaRegistryException("schema registry unreachable", SchemaRegistryException.NONE, SchemaRegistryException.NONE);
            }
        };
        SerializationException e = assertThrows(SerializationException.class,
                () -> new AvroDeserializer<>(down, CalibrationSample.class).deserialize(TOPIC, valid()));
        assertFalse(e instanceof AvroDecodingException, "a transient failure must not dead-letter the record");
        assertTrue(e.getMessage().contains("schema id 1"), e.getMessage());
    }
}
