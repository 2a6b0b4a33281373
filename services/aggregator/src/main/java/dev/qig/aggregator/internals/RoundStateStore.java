package dev.qig.aggregator.internals;

import dev.qig.schemas.internal.RoundProgress;
import dev.qig.schemas.internal.RoundState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * The open rounds' states (store {@code rounds}), written back: the processor reads and changes a
 * round's {@link RoundState} in memory, and it is encoded and written to the changelogged store
 * underneath once per commit, with its progress summary (store {@code round-progress}), not once
 * per record (decoding and re-encoding the state, which carries the plan's channel means, on every
 * record was a quarter of the aggregator's time, issue 20).
 *
 * <p>Exactly-once holds as for {@link RoundSumsStore}: the write-back runs in {@link #flushCache},
 * which Kafka Streams calls on every store of a task before it flushes the producer and commits the
 * transaction, so the changelogs of a commit hold the state of exactly the input records it
 * consumes. Memory is dropped whenever the store underneath may have changed without it: on init
 * (after a restore, or a revived task), close, and {@link #clearCache} (a task recycled to standby).
 *
 * <p>As a {@link KeyValueStore} (interactive queries, the HTTP view, tests) it reads the records
 * underneath, as of the last commit, and never the memory that the stream thread changes; a write
 * through it first writes back, then drops the memory.
 */
public final class RoundStateStore extends WriteBackStore<RoundState> {

    /** The round states read or written since the last drop, by round key. */
    private final Map<String, RoundState> open = new HashMap<>();
    /** Round keys whose state underneath is behind the one in memory. */
    private final Set<String> dirty = new HashSet<>();
    /** Where each written-back state's progress summary goes (set by the processor). */
    private KeyValueStore<String, RoundProgress> progress;

    RoundStateStore(KeyValueStore<String, RoundState> inner) {
        super(inner);
    }

    /** The builder of the store: the plain store's, wrapped. */
    public static StoreBuilder<RoundStateStore> builder(StoreBuilder<KeyValueStore<String, RoundState>> inner) {
        return new WriteBackStoreBuilder<>(inner, RoundStateStore::new);
    }

    /** The store under a processor's handle (Kafka Streams hands processors a read-write decorator). */
    static RoundStateStore of(StateStore store) {
        return WriteBackStoreBuilder.unwrap(store, RoundStateStore.class);
    }

    /** The store that each written-back state's progress summary is put in. */
    void progressTo(KeyValueStore<String, RoundProgress> store) {
        this.progress = store;
    }

    /**
     * The round key's state, or null: the one in memory, else the store's (kept in memory from then
     * on). The caller may change it, and then calls {@link #save}.
     */
    RoundState state(String roundKey) {
        RoundState s = open.get(roundKey);
        if (s == null) {
            s = wrapped().get(roundKey);
            if (s != null) {
                open.put(roundKey, s);
            }
        }
        return s;
    }

    /** Every round state, by round key: the ones in memory, and the rest read from the store (and kept). */
    List<RoundState> states() {
        Map<String, RoundState> all = new TreeMap<>();
        try (KeyValueIterator<String, RoundState> it = wrapped().all()) {
            while (it.hasNext()) {
                KeyValue<String, RoundState> e = it.next();
                all.put(e.key, e.value);
            }
        }
        all.keySet().forEach(k -> open.putIfAbsent(k, all.get(k)));
        all.putAll(open);
        return new ArrayList<>(all.values());
    }

    /** The state is the round key's from now on: written back (with its progress) at the next commit. */
    void save(RoundState s) {
        open.put(s.getRoundKey(), s);
        dirty.add(s.getRoundKey());
    }

    @Override
    void writeBack() {
        for (String key : dirty) {
            RoundState s = open.get(key);
            wrapped().put(key, s);
            if (progress != null) {
                progress.put(key, progressOf(s));
            }
        }
        dirty.clear();
    }

    /** A round's progress summary (what the metrics and the HTTP view read, without the plan). */
    static RoundProgress progressOf(RoundState s) {
        return new RoundProgress(s.getRoundKey(), s.getRound(), s.getPlanVersion(), s.getSamples(), s.getOpenedAtMs(),
                s.getDuplicates(), new HashMap<>(s.getDomains()), s.getLastDriftCheck());
    }

    @Override
    void dropMemory() {
        open.clear();
        dirty.clear();
    }
}
