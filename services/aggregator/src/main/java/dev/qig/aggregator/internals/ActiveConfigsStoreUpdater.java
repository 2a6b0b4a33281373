package dev.qig.aggregator.internals;

import dev.qig.quant.AlphaGrid;
import dev.qig.quant.QuantConfig;
import dev.qig.kafka.records.Records;
import dev.qig.kafka.serde.AvroDeserializer;
import dev.qig.schemas.ActiveConfig;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the global store of promoted configs (topic qig.active-configs.v1, key model/scheme) that the
 * drift check measures. Reads raw bytes and decodes them itself, never throwing: Kafka Streams 4.4
 * cannot send a global thread's failed record to the dead-letter topic (its handlers assume a
 * stream task), and the evaluator's topic is not this service's to refuse. A record that does not
 * decode, or whose alphas are off the grid, is logged and skipped; a tombstone removes the key.
 */
public final class ActiveConfigsStoreUpdater implements Processor<String, byte[], Void, Void> {

    public static final String STORE = "active-configs";

    private static final Logger LOG = LoggerFactory.getLogger(ActiveConfigsStoreUpdater.class);

    private final AvroDeserializer<ActiveConfig> deserializer;
    private final String topic;
    private KeyValueStore<String, ActiveConfig> store;

    public ActiveConfigsStoreUpdater(AvroDeserializer<ActiveConfig> deserializer, String topic) {
        this.deserializer = deserializer;
        this.topic = topic;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(STORE);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        if (record.key() == null) {
            return;
        }
        if (record.value() == null) {
            store.delete(record.key());
            return;
        }
        try {
            ActiveConfig active = deserializer.deserialize(topic, record.value());
            QuantConfig config = Records.config(active.getConfig());
            config.groups().values().forEach(g -> AlphaGrid.indexOf(g.alpha()));
            store.put(record.key(), active);
        } catch (RuntimeException e) {
            LOG.warn("active config under key {} skipped (the drift check keeps what it had): {}", record.key(),
                    e.getMessage());
        }
    }
}
