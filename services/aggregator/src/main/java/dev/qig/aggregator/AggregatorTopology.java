package dev.qig.aggregator;

import dev.qig.aggregator.internals.ActiveConfigsStoreUpdater;
import dev.qig.aggregator.internals.AggregatorMetrics;
import dev.qig.aggregator.internals.RoundProcessor;
import dev.qig.aggregator.internals.RoundStateStore;
import dev.qig.aggregator.internals.ScaleSearcher;
import dev.qig.aggregator.internals.RoundSumsStore;
import dev.qig.kafka.metrics.ServiceMetrics;
import dev.qig.kafka.registry.SchemaRegistryClient;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.kafka.serde.AvroSerde;
import dev.qig.kafka.serde.AvroSerializer;
import dev.qig.kafka.topics.Topics;
import dev.qig.schemas.ActiveConfig;
import dev.qig.schemas.LayerStats;
import dev.qig.schemas.QuantConfig;
import dev.qig.schemas.internal.RoundLayerSums;
import dev.qig.schemas.internal.RoundProgress;
import dev.qig.schemas.internal.RoundState;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import dev.qig.kafka.serde.KeyDeserializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The aggregator's topology: layer-stats (keyed by round) into the round processor, whose stores
 * (rounds, their per-layer sums, parts of incomplete samples, progress, sample ids seen, latest
 * configs) are changelogged, and out to the plans,
 * configs, GPTQ-jobs and drift-events topics; the promoted configs (active-configs topic) in a global store that
 * the drift check reads. Each round key lives in one partition, so one task sees every group of a
 * model at once.
 */
public final class AggregatorTopology {

    private static final String SOURCE = "layer-stats-source";
    private static final String PROCESSOR = "rounds";
    private static final String ACTIVE_SOURCE = "active-configs-source";
    private static final String ACTIVE_PROCESSOR = "active-configs";

    private AggregatorTopology() {}

    /** The topology with metrics counted in a registry of its own (tests with the TopologyTestDriver). */
    public static Topology build(AggregatorConfig config, SchemaRegistryClient registry) {
        return build(config, registry, new AggregatorMetrics(ServiceMetrics.withoutJvm("aggregator")));
    }

    public static Topology build(AggregatorConfig config, SchemaRegistryClient registry, AggregatorMetrics metrics) {
        return build(config, registry, metrics, ScaleSearcher.DEFAULT);
    }

    /** With the scale search a test chooses (one that fails midway: a close applies all of itself or nothing). */
    static Topology build(AggregatorConfig config, SchemaRegistryClient registry, AggregatorMetrics metrics,
                          ScaleSearcher searcher) {
        RoundProcessor.Settings settings = new RoundProcessor.Settings(config.modelIds(), config.roundSamples(),
                config.roundMaxDurationMs(), config.roundCheckIntervalMs(), config.planRefreshRounds(), config.dedupRounds(),
                config.distortionMethod(), config.instanceId(), config.requantizePolicy(), config.driftThresholds());
        AvroSerde<LayerStats> statsSerde = new AvroSerde<>(registry, LayerStats.class);
        // Built with the service's Streams settings: a default Topology reads defaults of its own (and warns
        // that the processing exception handler is off for the global thread).
        Topology t = new Topology(new org.apache.kafka.streams.TopologyConfig(
                new org.apache.kafka.streams.StreamsConfig(Aggregator.streamsProperties(config))));
        t.addSource(SOURCE, new KeyDeserializer(), statsSerde.deserializer(), config.topic(Topics.Topic.LAYER_STATS));
        t.addProcessor(PROCESSOR, () -> new RoundProcessor(settings, metrics, searcher), SOURCE);
        // Written back once per commit, with the progress store (RoundStateStore); underneath, the same changelogged store.
        t.addStateStore(RoundStateStore.builder(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(RoundProcessor.ROUNDS_STORE), Serdes.String(),
                new AvroSerde<>(registry, RoundState.class))), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.SEEN_STORE),
                Serdes.String(), Serdes.Long()), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.PROGRESS_STORE),
                Serdes.String(), new AvroSerde<>(registry, RoundProgress.class)), PROCESSOR);
        // Written back once per commit (RoundSumsStore); underneath, the same changelogged store of per-layer records.
        t.addStateStore(RoundSumsStore.builder(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(RoundProcessor.LAYER_SUMS_STORE), Serdes.String(),
                new AvroSerde<>(registry, RoundLayerSums.class))), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.PENDING_STORE),
                Serdes.String(), statsSerde), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(RoundProcessor.CONFIGS_STORE),
                Serdes.String(), new AvroSerde<>(registry, QuantConfig.class)), PROCESSOR);
        AvroSerializer<SpecificRecord> out = new AvroSerializer<>(registry);
        org.apache.kafka.common.serialization.Serializer<String> keys = out.keySerializer(config.keyFormat());
        t.addSink(RoundProcessor.PLANS_SINK, config.topic(Topics.Topic.PLANS), keys, out, PROCESSOR);
        t.addSink(RoundProcessor.CONFIGS_SINK, config.topic(Topics.Topic.CONFIGS), keys, out, PROCESSOR);
        t.addSink(RoundProcessor.GPTQ_JOBS_SINK, config.topic(Topics.Topic.GPTQ_JOBS), keys, out, PROCESSOR);
        t.addSink(RoundProcessor.DRIFT_SINK, config.topic(Topics.Topic.DRIFT_EVENTS), keys, out, PROCESSOR);
        // The promoted configs, on every instance (a global store: the key is model/scheme, not the round key).
        // Not changelogged: the compacted topic itself is what a restart reads back.
        String activeTopic = config.topic(Topics.Topic.ACTIVE_CONFIGS);
        AvroDeserializer<ActiveConfig> activeDeserializer = new AvroDeserializer<>(registry, ActiveConfig.class);
        t.addGlobalStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ActiveConfigsStoreUpdater.STORE),
                        Serdes.String(), new AvroSerde<>(registry, ActiveConfig.class)).withLoggingDisabled(),
                ACTIVE_SOURCE, new KeyDeserializer(), new ByteArrayDeserializer(), activeTopic, ACTIVE_PROCESSOR,
                () -> new ActiveConfigsStoreUpdater(activeDeserializer, activeTopic));
        return t;
    }
}
