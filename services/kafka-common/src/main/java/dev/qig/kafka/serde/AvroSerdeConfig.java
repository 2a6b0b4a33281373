package dev.qig.kafka.serde;

import java.util.Map;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.config.ConfigException;

import dev.qig.kafka.registry.SchemaRegistries;
import dev.qig.kafka.registry.SchemaRegistryClient;

/**
 * Config keys of the Avro serdes when Kafka builds them from client configs (no-arg constructor
 * plus {@code configure}); the registry keys are those of {@link SchemaRegistries}. The names are
 * Confluent's, so that a Confluent serde configuration carries over.
 */
public final class AvroSerdeConfig {

    /** Serializer: register the record's schema when it is new ({@code true}, default) or only look its id up. */
    public static final String AUTO_REGISTER_SCHEMAS = "auto.register.schemas";
    /** Deserializer of values: the generated record class (name or {@code Class}) to read into. */
    public static final String SPECIFIC_AVRO_VALUE_TYPE = "specific.avro.value.type";
    /** Deserializer of keys: the generated record class (name or {@code Class}) to read into. */
    public static final String SPECIFIC_AVRO_KEY_TYPE = "specific.avro.key.type";

    private AvroSerdeConfig() {
    }

    static SchemaRegistryClient registry(Map<String, ?> configs) {
        try {
            return SchemaRegistries.create(configs);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    static boolean autoRegister(Map<String, ?> configs) {
        Object value = configs.get(AUTO_REGISTER_SCHEMAS);
        return value == null || Boolean.parseBoolean(value.toString().strip());
    }

    static <T extends SpecificRecord> Class<T> recordClass(Map<String, ?> configs, boolean isKey) {
        String key = isKey ? SPECIFIC_AVRO_KEY_TYPE : SPECIFIC_AVRO_VALUE_TYPE;
        Object value = configs.get(key);
        if (value == null) {
            throw new ConfigException(key + " is required: the generated Avro class to deserialize into");
        }
        Class<?> cls;
        try {
            cls = value instanceof Class<?> c ? c
                    : Class.forName(value.toString().strip(), true, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException e) {
            throw new ConfigException(key, value, "class not found");
        }
        if (!SpecificRecord.class.isAssignableFrom(cls)) {
            throw new ConfigException(key, value, "not a generated Avro record class (SpecificRecord)");
        }
        @SuppressWarnings("unchecked")
        Class<T> recordClass = (Class<T>) cls;
        return recordClass;
    }

    /** TopicNameStrategy, Confluent's default: one subject per topic and side. */
    static String subject(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }
}
