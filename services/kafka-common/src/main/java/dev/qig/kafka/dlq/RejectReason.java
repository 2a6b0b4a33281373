package dev.qig.kafka.dlq;

import dev.qig.kafka.serde.AvroDecodingException;
import java.util.Locale;

/**
 * Why a record went to the dead-letter topic; written to the {@value DeadLetters#REASON} header in
 * lower case ({@code corrupt_image}) so that operators can count and replay by reason.
 */
public enum RejectReason {
    /** The bytes are not in the Confluent wire format (too short, wrong magic byte). */
    NOT_WIRE_FORMAT,
    /** The schema id is not in the registry. */
    UNKNOWN_SCHEMA_ID,
    /** The bytes do not decode as Avro with the writer's schema, or the schema cannot be read as the record type. */
    CORRUPT_AVRO,
    /** A record without a value (a tombstone) on a topic whose records all carry one. */
    NULL_VALUE,
    /** Neither image bytes nor a readable image URI. */
    MISSING_IMAGE,
    /** Image bytes that do not decode as PNG or JPEG. */
    CORRUPT_IMAGE,
    /**
     * An image larger than allowed: more bytes than image.max.bytes (or than a Kafka record may
     * carry), or more pixels than the decoder expands (a decompression bomb).
     */
    OVERSIZE_IMAGE,
    /** No words in the prompt. */
    EMPTY_PROMPT,
    /** A prompt longer than allowed, or a sequence longer than the model's context. */
    OVERSIZE_PROMPT,
    /** Words outside the model's vocabulary. */
    UNKNOWN_WORD,
    /** Template tokens where none may be. */
    INVALID_PROMPT,
    /** No words in the answer. */
    EMPTY_ANSWER,
    /** No answer at all: the field is absent or null in a source input. */
    MISSING_ANSWER,
    /** The sample names a model this service does not serve, or a record names a model the aggregator does not know. */
    UNKNOWN_MODEL,
    /** NaN or infinite activations, gradients or errors. */
    NON_FINITE,
    /** A record whose model, scheme or settings differ from its round's, or whose key does not match its value. */
    MISMATCHED_ROUND,
    /** Partial sums whose groups, channels or kind do not fit the plan they name. */
    MALFORMED_STATS,
    /** Partial sums computed under a plan older than the round's (the round moved on). */
    STALE_PLAN,
    /** Partial sums naming a plan the aggregator has not published. */
    UNKNOWN_PLAN,
    /** A source input (a file of a folder source) that is not the JSON a sample is made of. */
    MALFORMED_INPUT,
    /**
     * A quantization config that cannot be applied: an unknown scheme or method, bit widths that
     * contradict its scheme, scales that are not finite and positive, or groups that do not fit the model.
     */
    MALFORMED_CONFIG,
    /** A GPTQ job whose method, scheme or settings cannot be run. */
    MALFORMED_JOB,
    /** A GPTQ job some of whose samples are no longer on the samples topic (its retention is shorter than a round). */
    SAMPLES_UNAVAILABLE,
    /** A promoted config of a scheme no serving engine loads, which the publisher is set to refuse (export.unservable). */
    UNSERVABLE_SCHEME,
    /** A checkpoint the publisher could not commit to its artifact store, after every retry; the message is the last error. */
    PUBLISH_FAILED,
    /** Anything else that went wrong while processing the record. */
    PROCESSING_ERROR;

    /** The reason for bytes that did not decode: wire format, schema id, or the Avro itself. */
    public static RejectReason of(AvroDecodingException e) {
        return switch (e.kind()) {
            case NOT_WIRE_FORMAT -> NOT_WIRE_FORMAT;
            case UNKNOWN_SCHEMA_ID -> UNKNOWN_SCHEMA_ID;
            default -> CORRUPT_AVRO;
        };
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
