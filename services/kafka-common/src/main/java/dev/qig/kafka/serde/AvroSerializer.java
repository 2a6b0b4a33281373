package dev.qig.kafka.serde;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.registry.SchemaRegistryException;

/**
 * Writes Avro records in the Confluent wire format (byte 0, the 4-byte big-endian schema id, the
 * Avro binary body), registering each record's schema under {@code <topic>-value} or
 * {@code <topic>-key}, so that any Confluent-compatible consumer can read them. Generated
 * (specific) records are the normal input; generic records are accepted too, e.g. for tests that
 * write an older schema version. Thread-safe: producers share one instance between threads.
 *
 * <p>Build it with a registry client, or let Kafka build it from configs (no-arg constructor and
 * {@link #configure}, keys in {@link AvroSerdeConfig}). A producer does not call
 * {@code configure} on an instance it is given.
 */
public final class AvroSerializer<T extends IndexedRecord> implements Serializer<T> {

    private volatile SchemaRegistryClient registry;
    private volatile boolean isKey;
    private volatile boolean autoRegister = true;
    private final Map<SubjectSchema, Integer> ids = new ConcurrentHashMap<>();

    private record SubjectSchema(String subject, Schema schema) {
    }

    /** For Kafka's config path; {@link #configure} must be called before use. */
    public AvroSerializer() {
    }

    /** A value serializer that registers new schemas. */
    public AvroSerializer(SchemaRegistryClient registry) {
        this(registry, false, true);
    }

    /**
     * @param autoRegister register new schemas (else only look their id up and fail when absent,
     *                     for deployments where schemas are registered ahead of the services)
     */
    public AvroSerializer(SchemaRegistryClient registry, boolean isKey, boolean autoRegister) {
        this.registry = registry;
        this.isKey = isKey;
        this.autoRegister = autoRegister;
    }

    /** Keeps a registry given to the constructor; else creates one from the configs. */
    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        configure(configs, isKey, null);
    }

    /** {@code shared}: a registry client to use instead of creating one, so a serde creates one only. */
    void configure(Map<String, ?> configs, boolean isKey, SchemaRegistryClient shared) {
        this.isKey = isKey;
        if (configs.containsKey(AvroSerdeConfig.AUTO_REGISTER_SCHEMAS)) {
            this.autoRegister = AvroSerdeConfig.autoRegister(configs);
        }
        if (registry == null) {
            registry = shared != null ? shared : AvroSerdeConfig.registry(configs);
        }
    }

    /** Keys in {@code format} for the records this serializer writes (the same registry registers an Avro key's schema). */
    public Serializer<String> keySerializer(KeyFormat format) {
        return format.serializer(registry);
    }

    boolean hasRegistry() {
        return registry != null;
    }

    @Override
    public byte[] serialize(String topic, T record) {
        if (record == null) {
            return null;
        }
        Schema schema = record.getSchema();
        int id = schemaId(topic, schema);
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        out.write(0);
        out.write(id >>> 24);
        out.write(id >>> 16);
        out.write(id >>> 8);
        out.write(id);
        try {
            // Generated classes carry their own model with the logical-type conversions (Instant...).
            GenericData model = record instanceof SpecificRecord ? SpecificData.getForClass(record.getClass()) : GenericData.get();
            @SuppressWarnings("unchecked")
            DatumWriter<T> writer = (DatumWriter<T>) model.createDatumWriter(schema);
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("topic " + topic + ": cannot encode a " + schema.getFullName() + " as Avro: " + e, e);
        }
        return out.toByteArray();
    }

    private int schemaId(String topic, Schema schema) {
        SchemaRegistryClient registry = this.registry;
        if (registry == null) {
            throw new IllegalStateException("AvroSerializer is not configured: no schema registry");
        }
        SubjectSchema key = new SubjectSchema(AvroSerdeConfig.subject(topic, isKey), schema);
        Integer cached = ids.get(key);
        if (cached != null) {
            return cached;
        }
        boolean register = autoRegister;
        try {
            int id = register ? registry.register(key.subject(), schema) : registry.idOf(key.subject(), schema);
            ids.put(key, id);
            return id;
        } catch (SchemaRegistryException e) {
            throw new SerializationException("topic " + topic + ": cannot " + (register ? "register" : "find")
                    + " the schema of " + schema.getFullName() + " under subject " + key.subject() + ": " + e.getMessage(), e);
        }
    }
}
