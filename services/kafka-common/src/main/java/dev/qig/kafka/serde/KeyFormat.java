package dev.qig.kafka.serde;

import dev.qig.kafka.registry.SchemaRegistryClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * How the services write record keys (sample ids, round keys, config ids: always text). {@link
 * #STRING}: plain UTF-8, what kcat, Kafka's console tools and most consumers expect. {@link #AVRO}: an
 * Avro {@code "string"} in Confluent's wire format, its schema registered under {@code <topic>-key},
 * for consumers that decode every key with the registry (Confluent's legacy {@code AvroConsumer}).
 * Keys are read in either format ({@link KeyDeserializer}).
 *
 * <p>One format per deployment: the partitioner hashes the key's bytes, so the same key in two
 * formats may land on two partitions, and a compacted topic keeps both.
 */
public enum KeyFormat {
    STRING,
    AVRO;

    /** Avro's schema of a key. */
    static final Schema KEY_SCHEMA = Schema.create(Schema.Type.STRING);

    /** {@code string} or {@code avro}, in any case. */
    public static KeyFormat of(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown key format '" + name + "' (string or avro)");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** A serializer writing keys in this format; {@code registry} registers the key schema (unused for {@link #STRING}). */
    public Serializer<String> serializer(SchemaRegistryClient registry) {
        return this == STRING ? new StringSerializer() : new AvroKeySerializer(Objects.requireNonNull(registry, "registry"));
    }

    private static final class AvroKeySerializer implements Serializer<String> {
        private final SchemaRegistryClient registry;
        private final Map<String, Integer> ids = new ConcurrentHashMap<>();

        AvroKeySerializer(SchemaRegistryClient registry) {
            this.registry = registry;
        }

        @Override
        public byte[] serialize(String topic, String key) {
            if (key == null) {
                return null;
            }
            int id = ids.computeIfAbsent(topic, t -> registry.register(t + "-key", KEY_SCHEMA));
            ByteArrayOutputStream out = new ByteArrayOutputStream(key.length() + 8);
            out.write(0);
            out.write(id >>> 24);
            out.write(id >>> 16);
            out.write(id >>> 8);
            out.write(id);
            try {
                BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
                encoder.writeString(key);
                encoder.flush();
            } catch (IOException e) {
                throw new SerializationException("topic " + topic + ": cannot encode key '" + key + "' as Avro", e);
            }
            return out.toByteArray();
        }
    }
}
