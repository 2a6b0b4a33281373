package dev.qig.kafka.clients;

import dev.qig.kafka.config.ServiceConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka clients of the services that do long work per record (the attributor's workers, the
 * evaluator): records are read as bytes (decoding errors become dead letters, not poll failures),
 * offsets are committed by hand after the outputs are acknowledged, and outputs are written by an
 * idempotent producer that waits for every replica. Settings the user gives win over the defaults
 * here, except those the delivery guarantee rests on.
 */
public final class ServiceClients {

    private ServiceClients() {}

    /** A consumer of {@code topic} in {@code groupId} that polls one record at a time and never commits on its own. */
    public static KafkaConsumer<byte[], byte[]> recordAtATimeConsumer(ServiceConfig config, String groupId, String clientId,
                                                                     String topic) {
        return recordAtATimeConsumer(config, groupId, clientId, topic, Map.of());
    }

    /** As above, with {@code defaults} (e.g. a longer max.poll.interval.ms) that apply unless the user set them. */
    public static KafkaConsumer<byte[], byte[]> recordAtATimeConsumer(ServiceConfig config, String groupId, String clientId,
                                                                     String topic, Map<String, Object> defaults) {
        Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
        defaults.forEach(props::putIfAbsent);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // One record per poll: its work takes seconds, and its offset is committed after its outputs.
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(topic));
        return c;
    }

    /** An idempotent producer of bytes with acks=all; {@code defaults} (e.g. linger.ms) apply unless the user set them. */
    public static KafkaProducer<byte[], byte[]> reliableProducer(ServiceConfig config, String clientId, Map<String, Object> defaults) {
        Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        props.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        defaults.forEach(props::putIfAbsent);
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Flushes and waits until every send is acknowledged; the first failure is thrown. */
    public static void awaitAcknowledged(Producer<?, ?> producer, List<Future<RecordMetadata>> sent) throws ExecutionException {
        producer.flush();
        for (Future<RecordMetadata> f : sent) {
            try {
                f.get();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for acknowledgements", ie);
            }
        }
    }

    /**
     * Reads every partition of {@code topic} from its beginning to its end offsets at call time, without
     * a consumer group (nothing is committed), and hands each record to {@code each}: how a service
     * restores what a compacted topic holds, or loads a fixed data set, before it starts.
     */
    public static void readToEnd(ServiceConfig config, String topic, String clientId,
                                 java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> each) {
        Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(60))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (!end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                consumer.poll(Duration.ofMillis(200)).forEach(each);
            }
        }
    }
}
