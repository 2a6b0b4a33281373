package dev.qig.app.bench;

import dev.qig.app.pipeline.LocalPipeline;
import dev.qig.app.ModelOption;
import ai.djl.ndarray.NDManager;
import dev.qig.aggregator.Aggregator;
import dev.qig.aggregator.AggregatorConfig;
import dev.qig.data.SyntheticWorld;
import dev.qig.data.VisualQuestion;
import dev.qig.quant.CalibrationPlan;
import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.CalibrationSums;
import dev.qig.quant.Method;
import dev.qig.core.engine.PartialSumsEngine;
import dev.qig.quant.QuantScheme;
import dev.qig.core.vqa.VqaModel;
import dev.qig.kafka.embedded.EmbeddedKafka;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.records.RoundKey;
import dev.qig.kafka.registry.MockSchemaRegistry;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.EngineSettings;
import dev.qig.schemas.LayerStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code qig bench --aggregator}: LayerStats records per second through the aggregator (Kafka
 * Streams, exactly-once, a broker in this JVM), against the samples per second one attributor
 * worker computes them at: the aggregator must keep up with many attributors (issue's target: 100
 * times one). The records are real partial sums of the model (the engine on a few samples, replayed
 * with new sample ids), sent in one burst after the statistics round; rounds close and emit configs
 * as in the stream (every-round, one plan).
 */
final class AggregatorBench {

    private AggregatorBench() {}

    static void run(ModelOption model, QuantScheme scheme, int roundSamples, int rounds) throws Exception {
        SyntheticWorld world = new SyntheticWorld();
        String scope = "bench-aggregator-" + UUID.randomUUID();
        SchemaRegistryClient registry = MockSchemaRegistry.scope(scope);
        Path state = Files.createTempDirectory("qig-bench-aggregator");
        try (NDManager manager = NDManager.newBaseManager(); EmbeddedKafka kafka = EmbeddedKafka.start()) {
            VqaModel vqa = model.load(manager);
            CalibrationSettings settings = CalibrationSettings.defaults(scheme).withBatchSize(8);
            PartialSumsEngine engine = new PartialSumsEngine(vqa, settings, model.id);
            List<VisualQuestion> questions = LocalPipeline.asStreamed(world.trainingMix(8, 7), vqa.processor());
            List<CalibrationSums> statistics = new ArrayList<>();
            engine.attribute(questions, CalibrationPlan.empty(), Method.scaleSearches(), manager)
                    .forEach(r -> statistics.add(r.sums()));
            CalibrationPlan plan = CalibrationPlan.from(1, statistics.stream().reduce(CalibrationSums.EMPTY,
                    CalibrationSums::plus), null);
            long start = System.nanoTime();
            List<CalibrationSums> search = new ArrayList<>();
            engine.attribute(questions, plan, Method.scaleSearches(), manager).forEach(r -> search.add(r.sums()));
            double attributorPerSecond = questions.size() / ((System.nanoTime() - start) / 1e9);

            EngineSettings engineSettings = Records.settingsRecord(settings, Method.scaleSearches());
            RoundKey key = RoundKey.of(model.id, scheme, engineSettings);
            Map<String, Object> p = new HashMap<>();
            p.put(AggregatorConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            p.put(AggregatorConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
            p.put(AggregatorConfig.MODELS, model.id);
            p.put(AggregatorConfig.ROUND_SAMPLES, roundSamples);
            p.put(AggregatorConfig.REQUANTIZE_POLICY, "every-round");
            p.put(AggregatorConfig.PLAN_REFRESH_ROUNDS, 0);
            p.put(AggregatorConfig.HTTP_PORT, -1);
            p.put(AggregatorConfig.METRICS_PORT, -1);
            p.put(AggregatorConfig.INSTANCE_ID, "bench");
            p.put("state.dir", state.toString());
            p.put("commit.interval.ms", 100);
            String topic = Topics.Topic.LAYER_STATS.defaultName();
            AvroSerializer<LayerStats> serializer = new AvroSerializer<>(registry);
            StringSerializer keys = new StringSerializer();
            System.out.printf(Locale.ROOT, "qig bench --aggregator: %s, %s, rounds of %d samples, %d search rounds in one "
                            + "burst; LayerStats of %d bytes (search) from the engine on 8 samples%n", model.location,
                    scheme.id(), roundSamples, rounds, serializer.serialize(topic, Records.layerStats("x", key, engineSettings,
                            1, search.get(0), "clean", Instant.EPOCH, "bench")).length);
            try (Aggregator aggregator = new Aggregator(new AggregatorConfig(p), registry);
                 KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                         kafka.bootstrapServers(), "linger.ms", 5), new ByteArraySerializer(), new ByteArraySerializer())) {
                aggregator.start();
                for (int i = 0; i < roundSamples; i++) {
                    producer.send(new ProducerRecord<>(topic, keys.serialize(topic, key.toString()), serializer.serialize(topic,
                            Records.layerStats("s" + i, key, engineSettings, 0, statistics.get(i % statistics.size()),
                                    "clean", Instant.EPOCH, "bench"))));
                }
                producer.flush();
                awaitRound(aggregator, key, 2);
                List<byte[]> records = new ArrayList<>();
                for (int i = 0; i < roundSamples * rounds; i++) {
                    records.add(serializer.serialize(topic, Records.layerStats("t" + i, key, engineSettings, 1,
                            search.get(i % search.size()), "clean", Instant.EPOCH, "bench")));
                }
                long sent = System.nanoTime();
                for (byte[] r : records) {
                    producer.send(new ProducerRecord<>(topic, keys.serialize(topic, key.toString()), r));
                }
                producer.flush();
                awaitRound(aggregator, key, 2 + rounds);
                double seconds = (System.nanoTime() - sent) / 1e9;
                double perSecond = records.size() / seconds;
                System.out.printf(Locale.ROOT, "%n| measure | value |%n|---|---:|%n");
                System.out.printf(Locale.ROOT, "| LayerStats records summed (search rounds) | %d |%n", records.size());
                System.out.printf(Locale.ROOT, "| rounds closed (configs of 4 methods each) | %d |%n", rounds);
                System.out.printf(Locale.ROOT, "| seconds, first send to last round closed | %.1f |%n", seconds);
                System.out.printf(Locale.ROOT, "| aggregator: records per second | %.0f |%n", perSecond);
                System.out.printf(Locale.ROOT, "| one attributor worker: samples per second (engine, batch 8) | %.1f |%n",
                        attributorPerSecond);
                System.out.printf(Locale.ROOT, "| ratio (target: at least 100) | %.0f |%n", perSecond / attributorPerSecond);
            }
        } finally {
            MockSchemaRegistry.drop(scope);
        }
    }

    /** Waits until the round key's open round is {@code round} (the ones before it closed). */
    private static void awaitRound(Aggregator aggregator, RoundKey key, long round) throws InterruptedException {
        long deadline = System.nanoTime() + 30L * 60 * 1_000_000_000L;
        while (true) {
            List<dev.qig.aggregator.RoundStatus> progress;
            try {
                progress = aggregator.rounds();
            } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
                progress = List.of(); // starting or rebalancing: the stores come back
            }
            for (dev.qig.aggregator.RoundStatus p : progress) {
                if (p.roundKey().equals(key.toString()) && p.round() >= round) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the aggregator did not reach round " + round + " within 30 minutes");
            }
            Thread.sleep(20);
        }
    }
}
