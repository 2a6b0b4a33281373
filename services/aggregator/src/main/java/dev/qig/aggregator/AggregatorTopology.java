package dev.qig.aggregator;

import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroSerde;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundProgress;
import dev.qig.schemas.internal.RoundState;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The aggregator's topology: layer-stats (keyed by round) into the round processor, whose stores
 * (rounds, their progress, sample ids seen, latest configs) are changelogged, and out to the plans and configs
 * topics. Each round key lives in one partition, so one task sees every group of a model at once.
 */
public final class AggregatorTopology {

    private static final String SOURCE = "layer-stats-source";
    private static final String PROCESSOR = "rounds";

    private AggregatorTopology() {}

    public static Topology build(AggregatorConfig config, SchemaRegistryClient registry) {
        RoundProcessor.Settings settings = new RoundProcessor.Settings(config.modelIds(), config.roundSamples(),
                config.roundMaxDurationMs(), config.roundCheckIntervalMs(), config.planRefreshRounds(),
                config.distortionMethod(), config.instanceId());
        AvroSerde<LayerStats> statsSerde = new AvroSerde<>(registry, LayerStats.class);
        Topology t = new Topology();
        t.addSource(SOURCE, new StringDeserializer(), statsSerde.deserializer(), config.topic(Topics.Topic.LAYER_STATS));
        t.addProcessor(PROCESSOR, () -> new RoundProcessor(settings), SOURCE);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.ROUNDS_STORE),
                Serdes.String(), new AvroSerde<>(registry, RoundState.class)), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.SEEN_STORE),
                Serdes.String(), Serdes.Long()), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.PROGRESS_STORE),
                Serdes.String(), new AvroSerde<>(registry, RoundProgress.class)), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.CONFIGS_STORE),
                Serdes.String(), new AvroSerde<>(registry, QuantConfig.class)), PROCESSOR);
        AvroSerializer<SpecificRecord> out = new AvroSerializer<>(registry);
        t.addSink(RoundProcessor.PLANS_SINK, config.topic(Topics.Topic.PLANS), new StringSerializer(), out, PROCESSOR);
        t.addSink(RoundProcessor.CONFIGS_SINK, config.topic(Topics.Topic.CONFIGS), new StringSerializer(), out, PROCESSOR);
        return t;
    }
}
