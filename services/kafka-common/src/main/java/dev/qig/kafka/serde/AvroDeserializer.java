package dev.qig.kafka.serde;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityResult;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.registry.SchemaRegistryException;
import dev.qig.kafka.serde.AvroDecodingException.Kind;

/**
 * Reads Confluent wire-format Avro into a generated record class. Each record is decoded with
 * its writer schema (fetched by id, cached) resolved against the class's schema, so a consumer on
 * a newer schema reads records written with an older one. Bytes that cannot be decoded raise an
 * {@link AvroDecodingException} whose {@link AvroDecodingException.Kind} says why; a registry
 * that cannot be reached raises a plain {@link SerializationException}. Thread-safe.
 *
 * <p>Build it with a registry client and the class, or let Kafka build it from configs (keys in
 * {@link AvroSerdeConfig}). A consumer does not call {@code configure} on an instance it is given.
 */
public final class AvroDeserializer<T extends SpecificRecord> implements Deserializer<T> {

    private static final int HEADER = 5;

    private volatile SchemaRegistryClient registry;
    private volatile Reader<T> reader;
    private volatile boolean isKey;
    private final Map<Integer, Writer> writers = new ConcurrentHashMap<>();

    private record Reader<T>(Class<T> type, Schema schema, SpecificData model) {
        static <T> Reader<T> of(Class<T> type) {
            // The class's own model knows the conversions of its logical types (timestamp-millis -> Instant).
            SpecificData model = SpecificData.getForClass(type);
            return new Reader<>(type, model.getSchema(type), model);
        }
    }

    /** A writer schema and, when it cannot be resolved against the reader, why. */
    private record Writer(Schema schema, String incompatibility) {
    }

    /** For Kafka's config path; {@link #configure} must be called before use. */
    public AvroDeserializer() {
    }

    /** A value deserializer into {@code type}. */
    public AvroDeserializer(SchemaRegistryClient registry, Class<T> type) {
        this(registry, type, false);
    }

    /** {@code isKey} only changes the messages of errors. */
    public AvroDeserializer(SchemaRegistryClient registry, Class<T> type, boolean isKey) {
        this.registry = registry;
        this.reader = Reader.of(type);
        this.isKey = isKey;
    }

    /** Keeps a registry and class given to the constructor; else takes them from the configs. */
    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        configure(configs, isKey, null);
    }

    void configure(Map<String, ?> configs, boolean isKey, SchemaRegistryClient shared) {
        this.isKey = isKey;
        if (reader == null) {
            reader = Reader.of(AvroSerdeConfig.<T>recordClass(configs, isKey));
        }
        if (registry == null) {
            registry = shared != null ? shared : AvroSerdeConfig.registry(configs);
        }
    }

    @Override
    public T deserialize(String topic, byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        Reader<T> reader = this.reader;
        if (reader == null || registry == null) {
            throw new IllegalStateException("AvroDeserializer is not configured: no schema registry or record class");
        }
        String where = "topic " + topic + (isKey ? " (key)" : "");
        if (bytes.length < HEADER) {
            throw new AvroDecodingException(Kind.NOT_WIRE_FORMAT, topic, AvroDecodingException.NO_SCHEMA_ID, where + ": "
                    + bytes.length + " bytes are too short for the Confluent wire format (magic byte, 4-byte schema id, Avro body)", null);
        }
        if (bytes[0] != 0) {
            throw new AvroDecodingException(Kind.NOT_WIRE_FORMAT, topic, AvroDecodingException.NO_SCHEMA_ID,
                    String.format("%s: unknown magic byte 0x%02x, expected 0x00: not the Confluent wire format", where, bytes[0]), null);
        }
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        Writer writer = writer(topic, where, id, reader);
        String writerName = "writer schema id " + id + " (" + writer.schema().getFullName() + ")";
        if (writer.incompatibility() != null) {
            throw new AvroDecodingException(Kind.INCOMPATIBLE_SCHEMA, topic, id, where + ": " + writerName
                    + " cannot be read as " + reader.type().getName() + ": " + writer.incompatibility(), null);
        }
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, HEADER, bytes.length - HEADER, null);
        T value;
        boolean leftOver;
        try {
            value = new SpecificDatumReader<T>(writer.schema(), reader.schema(), reader.model()).read(null, decoder);
            leftOver = !decoder.isEnd();
        } catch (IOException | RuntimeException e) {
            // EOFException has no message; its class name is the useful part.
            throw new AvroDecodingException(Kind.CORRUPT_AVRO, topic, id,
                    where + ": bytes are not valid Avro for " + writerName + ": " + e, e);
        }
        if (leftOver) {
            // A record that ends before its bytes do was written with another schema or damaged.
            throw new AvroDecodingException(Kind.CORRUPT_AVRO, topic, id,
                    where + ": bytes are not valid Avro for " + writerName + ": bytes left over after the record", null);
        }
        return value;
    }

    private Writer writer(String topic, String where, int id, Reader<T> reader) {
        Writer cached = writers.get(id);
        if (cached != null) {
            return cached;
        }
        Schema schema;
        try {
            schema = registry.schemaById(id);
        } catch (SchemaRegistryException e) {
            if (e.isNotFound()) {
                throw new AvroDecodingException(Kind.UNKNOWN_SCHEMA_ID, topic, id,
                        where + ": schema id " + id + " is unknown to the schema registry: " + e.getMessage(), e);
            }
            throw new SerializationException(where + ": cannot fetch schema id " + id + ": " + e.getMessage(), e);
        }
        SchemaCompatibilityResult result = SchemaCompatibility.checkReaderWriterCompatibility(reader.schema(), schema).getResult();
        String incompatibility = result.getCompatibility() == SchemaCompatibilityType.COMPATIBLE ? null
                : result.getIncompatibilities().stream().map(i -> i.getMessage() + " at " + i.getLocation())
                        .collect(Collectors.joining("; "));
        Writer writer = new Writer(schema, incompatibility);
        writers.putIfAbsent(id, writer);
        return writer;
    }
}
