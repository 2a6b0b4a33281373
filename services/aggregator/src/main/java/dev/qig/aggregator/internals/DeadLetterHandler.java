package dev.qig.aggregator.internals;

import dev.qig.kafka.dlq.DeadLetters;
import dev.qig.kafka.dlq.RejectReason;
import dev.qig.kafka.dlq.RejectedRecordException;
import dev.qig.kafka.serde.AvroDecodingException;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kafka Streams' deserialization and processing exception handlers for the aggregator: the record
 * goes to the dead-letter topic ({@code errors.dead.letter.queue.topic.name}) in Kafka's own shape,
 * with qig-stream's reason and stage headers, and the stream thread goes on. Nothing that a record
 * can cause stops the aggregator.
 */
public final class DeadLetterHandler implements DeserializationExceptionHandler, ProcessingExceptionHandler {

    public static final String STAGE = "aggregator";
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterHandler.class);

    private String topic;
    private AggregatorMetrics metrics;

    @Override
    public void configure(Map<String, ?> configs) {
        Object t = configs.get(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG);
        if (t == null) {
            throw new IllegalArgumentException(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG + " must be set");
        }
        this.topic = t.toString();
        if (configs.get(AggregatorMetrics.CONFIG_KEY) instanceof AggregatorMetrics m) {
            this.metrics = m;
        }
    }

    @Override
    public DeserializationExceptionHandler.Response handleError(ErrorHandlerContext context,
                                                                ConsumerRecord<byte[], byte[]> record, Exception e) {
        RejectReason reason = e instanceof AvroDecodingException d ? RejectReason.of(d) : RejectReason.CORRUPT_AVRO;
        LOG.warn("dead letter ({}) from {}-{}@{}: {}", reason.id(), context.topic(), context.partition(), context.offset(),
                e.getMessage());
        return DeserializationExceptionHandler.Response.resume(List.of(
                deadLetter(record.key(), record.value(), reason, e, context)));
    }

    @Override
    public ProcessingExceptionHandler.Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception e) {
        RejectReason reason = e instanceof RejectedRecordException r ? r.reason() : RejectReason.PROCESSING_ERROR;
        if (reason == RejectReason.PROCESSING_ERROR) {
            LOG.error("processing error on {}-{}@{}", context.topic(), context.partition(), context.offset(), e);
        } else {
            LOG.warn("dead letter ({}) from {}-{}@{}: {}", reason.id(), context.topic(), context.partition(),
                    context.offset(), e.getMessage());
        }
        return ProcessingExceptionHandler.Response.resume(List.of(
                deadLetter(context.sourceRawKey(), context.sourceRawValue(), reason, e, context)));
    }

    private ProducerRecord<byte[], byte[]> deadLetter(byte[] key, byte[] value, RejectReason reason, Exception e,
                                                      ErrorHandlerContext context) {
        if (metrics != null) {
            metrics.deadLettered(reason.id());
        }
        return DeadLetters.to(topic).key(key).value(value).reason(reason).stage(STAGE).error(e)
                .source(context.topic(), context.partition(), context.offset()).build();
    }
}
