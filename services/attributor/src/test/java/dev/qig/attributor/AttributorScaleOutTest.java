package dev.qig.attributor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qig.data.Domain;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VqaSample;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.CalibrationSample;
import dev.qig.schemas.LayerStats;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * Scaling out as Kubernetes replicas do it: two attributor instances (their own process-level
 * objects, instance ids and model copies) in one consumer group on a samples topic of 4 partitions,
 * on a real broker. Both take a share of the partitions; when one goes away, the other takes over
 * its partitions and every sample is still attributed (at least once); the group's committed
 * offsets end at the end of every partition.
 */
class AttributorScaleOutTest {

    private static final int PARTITIONS = 4;

    @Test
    void twoReplicasShareThePartitionsAndTheSurvivorTakesOverWithoutLosingASample() throws Exception {
        String scope = "scale-out-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            AttributorConfig a = config(kafka, scope, "replica-a");
            AttributorConfig b = config(kafka, scope, "replica-b");
            String samplesTopic = a.topic(Topics.Topic.SAMPLES);
            AvroSerializer<CalibrationSample> serializer = new AvroSerializer<>(registry);
            List<VqaSample> samples = new SyntheticWorld().generate(Domain.CLEAN, 24, 7);
            Map<String, List<String>> attributedBy = new TreeMap<>(); // sample id -> instances, in arrival order

            try (Attributor replicaA = new Attributor(a, registry);
                 KafkaConsumer<byte[], byte[]> stats = statsReader(kafka, a.topic(Topics.Topic.LAYER_STATS));
                 KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                         kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
                replicaA.start(); // creates the topics, 4 partitions
                AvroDeserializer<LayerStats> decode = new AvroDeserializer<>(registry, LayerStats.class);
                Attributor replicaB = new Attributor(b, registry);
                try {
                    replicaB.start();
                    awaitMembersWithPartitions(kafka, a.getString(AttributorConfig.GROUP_ID), 2);
                    // Both in the group: the first 16 samples, 4 per partition.
                    send(producer, serializer, samplesTopic, samples.subList(0, 16));
                    readUntil(stats, decode, attributedBy, samples.subList(0, 16));
                    Set<String> sharing = attributedBy.values().stream().flatMap(List::stream).collect(Collectors.toSet());
                    assertEquals(Set.of("replica-a", "replica-b"), sharing, "both replicas attribute: " + attributedBy);
                } finally {
                    replicaB.close(); // leaves the group: its partitions go to replica-a
                }
                // Replica b is gone: the next 8 samples, 2 per partition, all go to replica a.
                send(producer, serializer, samplesTopic, samples.subList(16, 24));
                readUntil(stats, decode, attributedBy, samples);
                for (VqaSample s : samples.subList(16, 24)) {
                    assertEquals(Set.of("replica-a"), Set.copyOf(attributedBy.get(s.id())),
                            "after b left, a attributes every partition: " + s.id());
                }
                assertEquals(samples.stream().map(VqaSample::id).collect(Collectors.toCollection(TreeSet::new)),
                        attributedBy.keySet(), "every sample attributed");

                // The group committed every partition to its end.
                try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                    long deadline = System.currentTimeMillis() + 60_000;
                    Map<TopicPartition, Long> committed;
                    Map<TopicPartition, Long> ends = new HashMap<>();
                    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                    for (int p = 0; p < PARTITIONS; p++) {
                        latest.put(new TopicPartition(samplesTopic, p), OffsetSpec.latest());
                    }
                    admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
                    do {
                        committed = new HashMap<>();
                        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : admin.listConsumerGroupOffsets(
                                a.getString(AttributorConfig.GROUP_ID)).partitionsToOffsetAndMetadata().get().entrySet()) {
                            committed.put(e.getKey(), e.getValue().offset());
                        }
                        if (!committed.equals(ends)) {
                            Thread.sleep(200);
                        }
                    } while (!committed.equals(ends) && System.currentTimeMillis() < deadline);
                    assertEquals(ends, committed, "committed offsets of the group");
                    assertEquals(Set.of(6L), Set.copyOf(ends.values()), "6 samples per partition");
                }
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** Waits until the group is stable with {@code n} members, each with partitions (a replica's start is not its assignment). */
    private static void awaitMembersWithPartitions(EmbeddedKafka kafka, String group, int n) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            long deadline = System.currentTimeMillis() + 60_000;
            String seen = "";
            while (System.currentTimeMillis() < deadline) {
                var d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                seen = d.groupState() + " " + d.members();
                if (d.groupState() == org.apache.kafka.common.GroupState.STABLE && d.members().size() == n
                        && d.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty())) {
                    return;
                }
                Thread.sleep(200);
            }
            throw new AssertionError("group " + group + " never had " + n + " members with partitions: " + seen);
        }
    }

    private static AttributorConfig config(EmbeddedKafka kafka, String scope, String instance) {
        Map<String, Object> props = new HashMap<>();
        props.put(AttributorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        props.put(AttributorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        props.put(AttributorConfig.METRICS_PORT, -1);
        props.put(AttributorConfig.INSTANCE_ID, instance);
        props.put(AttributorConfig.TOPICS_PARTITIONS, PARTITIONS);
        props.put(AttributorConfig.TOPICS_REPLICATION_FACTOR, (short) 1);
        props.put(AttributorConfig.BATCH_SIZE, 2);
        return new AttributorConfig(props);
    }

    /** Sample i goes to partition i mod 4, so that every partition holds samples whoever owns it. */
    private static void send(KafkaProducer<byte[], byte[]> producer, AvroSerializer<CalibrationSample> serializer,
                             String topic, List<VqaSample> samples) throws Exception {
        for (int i = 0; i < samples.size(); i++) {
            VqaSample s = samples.get(i);
            CalibrationSample record = Records.calibrationSample(s, s.id(), "scale-out-test",
                    Instant.parse("2026-11-30T06:00:00Z")).build();
            producer.send(new ProducerRecord<>(topic, i % PARTITIONS, s.id().getBytes(), serializer.serialize(topic, record)));
        }
        producer.flush();
    }

    private static KafkaConsumer<byte[], byte[]> statsReader(EmbeddedKafka kafka, String topic) {
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "group.id", "read-" + UUID.randomUUID(), "auto.offset.reset", "earliest"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(topic));
        return c;
    }

    /** Reads LayerStats until every sample of {@code expected} has been attributed at least once (3 minutes at most). */
    private static void readUntil(KafkaConsumer<byte[], byte[]> stats, AvroDeserializer<LayerStats> decode,
                                  Map<String, List<String>> attributedBy, List<VqaSample> expected) {
        Set<String> wanted = expected.stream().map(VqaSample::id).collect(Collectors.toSet());
        long deadline = System.currentTimeMillis() + 180_000;
        while (!attributedBy.keySet().containsAll(wanted) && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : stats.poll(Duration.ofMillis(200))) {
                LayerStats s = decode.deserialize(r.topic(), r.value());
                attributedBy.computeIfAbsent(s.getSampleId(), k -> new ArrayList<>()).add(s.getAttributor());
            }
        }
        Set<String> missing = new TreeSet<>(wanted);
        missing.removeAll(attributedBy.keySet());
        assertTrue(missing.isEmpty(), "samples never attributed: " + missing);
    }
}
