package dev.qig.kafka.dlq;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Dead letters in Kafka's own shape (KIP-1034, as Kafka Streams 4.4 writes them with
 * {@code errors.dead.letter.queue.topic.name}): the original key and value bytes, untouched, and in
 * headers the exception, its message and stack trace, and the source topic, partition and offset.
 * qig-stream adds three headers of its own: the {@link RejectReason}, the stage that rejected the
 * record ({@code ingest}, {@code attributor}, {@code gptq}, {@code aggregator}, {@code evaluator},
 * {@code publisher}) and the model when known. Every service writes this shape,
 * so one consumer can read, count and replay all dead letters.
 */
public final class DeadLetters {

    // The header names Kafka Streams uses (org.apache.kafka.streams.errors.internals.ExceptionHandlerUtils).
    public static final String EXCEPTION = "__streams.errors.exception";
    public static final String STACKTRACE = "__streams.errors.stacktrace";
    public static final String MESSAGE = "__streams.errors.message";
    public static final String TOPIC = "__streams.errors.topic";
    public static final String PARTITION = "__streams.errors.partition";
    public static final String OFFSET = "__streams.errors.offset";
    /** qig-stream's reason code, e.g. {@code corrupt_image}. */
    public static final String REASON = "qig.errors.reason";
    /** The stage that rejected the record: ingest, attributor, gptq (the attributor's GPTQ jobs), aggregator, evaluator or publisher. */
    public static final String STAGE = "qig.errors.stage";
    /** The model the rejection concerns, when there is one. */
    public static final String MODEL = "qig.errors.model";

    private DeadLetters() {}

    /** A dead letter for {@code dlqTopic}, its fields set by name: {@code DeadLetters.to(topic).reason(..).stage(..)...build()}. */
    public static Builder to(String dlqTopic) {
        return new Builder(dlqTopic);
    }

    /** The fields of one dead letter; reason, stage and error are required. */
    public static final class Builder {
        private final String dlqTopic;
        private byte[] key;
        private byte[] value;
        private RejectReason reason;
        private String stage;
        private String model;
        private Throwable error;
        private String sourceTopic;
        private int partition = -1;
        private long offset = -1;

        private Builder(String dlqTopic) {
            this.dlqTopic = java.util.Objects.requireNonNull(dlqTopic, "dlqTopic");
        }

        /** The rejected record's key and value, untouched, and where it was read. */
        public Builder source(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record) {
            return key(record.key()).value(record.value()).source(record.topic(), record.partition(), record.offset());
        }

        /** Where the rejected record was read (none for an input that never was a record). */
        public Builder source(String topic, int partition, long offset) {
            this.sourceTopic = topic;
            this.partition = partition;
            this.offset = offset;
            return this;
        }

        public Builder key(byte[] key) {
            this.key = key;
            return this;
        }

        public Builder value(byte[] value) {
            this.value = value;
            return this;
        }

        public Builder reason(RejectReason reason) {
            this.reason = reason;
            return this;
        }

        /** The stage that rejected it: ingest, attributor, gptq, aggregator, evaluator, publisher. */
        public Builder stage(String stage) {
            this.stage = stage;
            return this;
        }

        /** The model the record is about, when known. */
        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder error(Throwable error) {
            this.error = error;
            return this;
        }

        public ProducerRecord<byte[], byte[]> build() {
            java.util.Objects.requireNonNull(reason, "reason");
            java.util.Objects.requireNonNull(stage, "stage");
            java.util.Objects.requireNonNull(error, "error");
            Headers h = new RecordHeaders();
            h.add(EXCEPTION, utf8(error.getClass().getName()));
            h.add(MESSAGE, utf8(String.valueOf(error.getMessage())));
            h.add(STACKTRACE, utf8(stackTrace(error)));
            if (sourceTopic != null) {
                h.add(TOPIC, utf8(sourceTopic));
                h.add(PARTITION, utf8(Integer.toString(partition)));
                h.add(OFFSET, utf8(Long.toString(offset)));
            }
            h.add(REASON, utf8(reason.id()));
            h.add(STAGE, utf8(stage));
            if (model != null) {
                h.add(MODEL, utf8(model));
            }
            return new ProducerRecord<>(dlqTopic, null, null, key, value, h);
        }
    }


    /** A header's value as text, or null when absent. */
    public static String header(Headers headers, String name) {
        var h = headers.lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String stackTrace(Throwable e) {
        StringWriter w = new StringWriter();
        e.printStackTrace(new PrintWriter(w));
        return w.toString();
    }
}
