package dev.qig.kafka.serde;

import java.util.Map;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import dev.qig.kafka.registry.SchemaRegistryClient;

/**
 * {@link AvroSerializer} and {@link AvroDeserializer} of one generated record class as a Kafka
 * Streams serde. Kafka Streams calls {@link #configure} on serdes named in its config, not on
 * instances passed to {@code Consumed.with}/{@code Produced.with}: build those with a registry.
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {

    private final AvroSerializer<T> serializer;
    private final AvroDeserializer<T> deserializer;

    /** For Kafka's config path ({@code specific.avro.value.type} names the class). */
    public AvroSerde() {
        serializer = new AvroSerializer<>();
        deserializer = new AvroDeserializer<>();
    }

    /** A value serde that registers new schemas. */
    public AvroSerde(SchemaRegistryClient registry, Class<T> type) {
        this(registry, type, false);
    }

    public AvroSerde(SchemaRegistryClient registry, Class<T> type, boolean isKey) {
        serializer = new AvroSerializer<>(registry, isKey, true);
        deserializer = new AvroDeserializer<>(registry, type, isKey);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        // One registry client (and cache) for both halves.
        SchemaRegistryClient shared = serializer.hasRegistry() ? null : AvroSerdeConfig.registry(configs);
        serializer.configure(configs, isKey, shared);
        deserializer.configure(configs, isKey, shared);
    }

    @Override
    public Serializer<T> serializer() {
        return serializer;
    }

    @Override
    public Deserializer<T> deserializer() {
        return deserializer;
    }
}
