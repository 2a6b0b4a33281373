package dev.qig.aggregator.internals;

import java.util.Map;
import java.util.function.Function;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.internals.WrappedStateStore;

/**
 * Builds a write-back store ({@link RoundSumsStore}, {@link RoundStateStore}) around the plain
 * store a builder builds: logging settings go to the plain store; Kafka Streams' own caching is
 * refused, since the wrapper keeps the decoded records in memory itself.
 */
final class WriteBackStoreBuilder<K, V, S extends StateStore> implements StoreBuilder<S> {

    private final StoreBuilder<KeyValueStore<K, V>> inner;
    private final Function<KeyValueStore<K, V>, S> wrap;

    WriteBackStoreBuilder(StoreBuilder<KeyValueStore<K, V>> inner, Function<KeyValueStore<K, V>, S> wrap) {
        this.inner = inner;
        this.wrap = wrap;
    }

    /** The wrapper of type {@code type} under a processor's handle (Kafka Streams hands processors a decorator). */
    static <T extends StateStore> T unwrap(StateStore store, Class<T> type) {
        StateStore s = store;
        while (!type.isInstance(s) && s instanceof WrappedStateStore<?, ?, ?> w) {
            s = w.wrapped();
        }
        if (!type.isInstance(s)) {
            throw new IllegalStateException("store " + store.name() + " is not a " + type.getSimpleName());
        }
        return type.cast(s);
    }

    @Override
    public StoreBuilder<S> withCachingEnabled() {
        throw new UnsupportedOperationException("the store keeps its records in memory itself");
    }

    @Override
    public StoreBuilder<S> withCachingDisabled() {
        inner.withCachingDisabled();
        return this;
    }

    @Override
    public StoreBuilder<S> withLoggingEnabled(Map<String, String> config) {
        inner.withLoggingEnabled(config);
        return this;
    }

    @Override
    public StoreBuilder<S> withLoggingDisabled() {
        inner.withLoggingDisabled();
        return this;
    }

    @Override
    public S build() {
        return wrap.apply(inner.build());
    }

    @Override
    public Map<String, String> logConfig() {
        return inner.logConfig();
    }

    @Override
    public boolean loggingEnabled() {
        return inner.loggingEnabled();
    }

    @Override
    public String name() {
        return inner.name();
    }
}
