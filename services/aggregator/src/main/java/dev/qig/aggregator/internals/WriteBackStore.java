package dev.qig.aggregator.internals;

import java.util.List;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.internals.WrappedStateStore;

/**
 * What {@link RoundSumsStore} and {@link RoundStateStore} share: a store whose subclass keeps what
 * the stream thread changes in memory, written to the store underneath in Kafka Streams' pre-commit
 * hook ({@link #flushCache}, before the producer flush and the transaction commit), and dropped
 * whenever the store underneath may have changed without it (init after a restore or a revived task,
 * close, {@link #clearCache} when a task is recycled to standby). As a {@link KeyValueStore} it reads
 * the records underneath; a write through it first writes back, then drops the memory.
 */
abstract class WriteBackStore<V> extends WrappedStateStore<KeyValueStore<String, V>, String, V>
        implements KeyValueStore<String, V> {

    WriteBackStore(KeyValueStore<String, V> inner) {
        super(inner);
    }

    /** Writes what memory holds ahead of the store underneath to it. */
    abstract void writeBack();

    /** Forgets the memory: the store underneath is the truth again. */
    abstract void dropMemory();

    @Override
    public void flushCache() {
        writeBack();
        super.flushCache();
    }

    @Override
    public void clearCache() {
        dropMemory();
        super.clearCache();
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        dropMemory();
        super.init(context, root);
    }

    @Override
    public void close() {
        dropMemory();
        super.close();
    }

    // --- KeyValueStore: the records underneath ---

    private void writeThrough() {
        writeBack();
        dropMemory();
    }

    @Override
    public void put(String key, V value) {
        writeThrough();
        wrapped().put(key, value);
    }

    @Override
    public V putIfAbsent(String key, V value) {
        writeThrough();
        return wrapped().putIfAbsent(key, value);
    }

    @Override
    public void putAll(List<KeyValue<String, V>> entries) {
        writeThrough();
        wrapped().putAll(entries);
    }

    @Override
    public V delete(String key) {
        writeThrough();
        return wrapped().delete(key);
    }

    @Override
    public V get(String key) {
        return wrapped().get(key);
    }

    @Override
    public KeyValueIterator<String, V> range(String from, String to) {
        return wrapped().range(from, to);
    }

    @Override
    public KeyValueIterator<String, V> reverseRange(String from, String to) {
        return wrapped().reverseRange(from, to);
    }

    @Override
    public KeyValueIterator<String, V> all() {
        return wrapped().all();
    }

    @Override
    public KeyValueIterator<String, V> reverseAll() {
        return wrapped().reverseAll();
    }

    @Override
    public <PS extends Serializer<P>, P> KeyValueIterator<String, V> prefixScan(P prefix, PS prefixKeySerializer) {
        return wrapped().prefixScan(prefix, prefixKeySerializer);
    }

    @Override
    public long approximateNumEntries() {
        return wrapped().approximateNumEntries();
    }
}
