package dev.qig.kafka.serde;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A record's bytes could not be turned into an Avro record, with the reason as a {@link Kind} so
 * that a consumer can put a reason code on the dead letter instead of parsing the message.
 * Failures to reach the registry are not this exception: they are transient, not the record's fault.
 */
public class AvroDecodingException extends SerializationException {

    /** Why the bytes could not be decoded. */
    public enum Kind {
        /** Too short, or a first byte other than the Confluent magic byte 0: not written by an Avro serializer. */
        NOT_WIRE_FORMAT,
        /** The schema id in the bytes is not in the registry. */
        UNKNOWN_SCHEMA_ID,
        /** The body is not valid Avro for its writer schema (truncated, bad union index, trailing bytes...). */
        CORRUPT_AVRO,
        /** The writer schema cannot be resolved against the reader's record class. */
        INCOMPATIBLE_SCHEMA
    }

    /** Schema id value when the bytes did not get far enough to hold one. */
    public static final int NO_SCHEMA_ID = -1;

    private final Kind kind;
    private final String topic;
    private final int schemaId;

    public AvroDecodingException(Kind kind, String topic, int schemaId, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.topic = topic;
        this.schemaId = schemaId;
    }

    public Kind kind() {
        return kind;
    }

    public String topic() {
        return topic;
    }

    /** The writer schema id read from the bytes, or {@link #NO_SCHEMA_ID}. */
    public int schemaId() {
        return schemaId;
    }
}
