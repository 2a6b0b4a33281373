package dev.qig.aggregator.internals;

import dev.qig.schemas.internal.RoundLayerSums;
import dev.qig.schemas.internal.RoundState;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * The open rounds' exact sums (store {@code round-layer-sums}), written back: the processor adds a
 * sample to the round's running sums in memory ({@link RoundSums}), and the round's per-layer
 * records are encoded and written to the changelogged store underneath once per commit, not once per
 * sample (re-encoding every exact sum of the round for every record was a third of the aggregator's
 * time, issue 20).
 *
 * <p>Exactly-once holds because the write-back runs in {@link #flushCache}, which Kafka Streams calls
 * on every store of a task before it flushes the producer and commits the transaction (the hook of
 * its own record caches): the changelog records of a commit hold the sums of exactly the input
 * records that commit consumes, and the round's state (store {@code rounds}, written per record) goes
 * in the same transaction. Memory is dropped whenever the store underneath may have changed without
 * it: on init (after a restore, or a revived task), close, and {@link #clearCache} (a task recycled to
 * standby); and a round's running sums are used only while they hold the round, plan and sample count
 * of its state, else they are read back from the store. The store's layout and changelog are those of
 * a plain store of {@link RoundLayerSums}, so a restart restores from changelogs written before.
 *
 * <p>As a {@link KeyValueStore} it reads the records underneath (the sums as of the last write-back:
 * what the changelog holds); a write through it (a test restoring records by hand) first writes back,
 * then drops the running sums.
 */
public final class RoundSumsStore extends WriteBackStore<RoundLayerSums> {

    private final Map<String, RoundSums> open = new HashMap<>();
    /** Round keys whose records underneath are behind their running sums (or whose round closed). */
    private final Set<String> dirty = new HashSet<>();
    /**
     * The layer keys underneath of round keys written back since the last drop: the next write-back
     * deletes the ones it does not replace without scanning (and decoding) the round's records.
     */
    private final Map<String, Set<String>> stored = new HashMap<>();

    RoundSumsStore(KeyValueStore<String, RoundLayerSums> inner) {
        super(inner);
    }

    /** The builder of the store: the plain store's, wrapped. */
    public static StoreBuilder<RoundSumsStore> builder(StoreBuilder<KeyValueStore<String, RoundLayerSums>> inner) {
        return new WriteBackStoreBuilder<>(inner, RoundSumsStore::new);
    }

    /** The store under a processor's handle (Kafka Streams hands processors a read-write decorator). */
    static RoundSumsStore of(StateStore store) {
        return WriteBackStoreBuilder.unwrap(store, RoundSumsStore.class);
    }

    /**
     * The running sums of the state's open round: in memory when they hold that round, plan and
     * sample count; else read back from the store (after a restart or a restore). The caller adds to
     * them and then calls {@link #changed}.
     *
     * @throws IllegalStateException when the store records do not match the state (see {@link RoundStates#sums})
     */
    RoundSums sums(RoundState s) {
        String key = s.getRoundKey();
        RoundSums live = open.get(key);
        if (live != null && live.round == s.getRound() && live.planVersion == s.getPlanVersion()
                && live.samples() == s.getSamples()) {
            return live;
        }
        if (s.getSamples() > 0 && dirty.contains(key)) {
            // The records underneath are behind: never read them as the round's.
            throw new IllegalStateException("the running sums of " + key + " hold round " + (live == null ? "none"
                    : live.round + ", plan " + live.planVersion + ", " + live.samples() + " samples") + "; the round state is at round "
                    + s.getRound() + ", plan " + s.getPlanVersion() + ", " + s.getSamples() + " samples");
        }
        RoundSums read = s.getSamples() == 0 ? new RoundSums(s.getRound(), s.getPlanVersion())
                : RoundSums.of(s.getRound(), s.getPlanVersion(), RoundStates.sums(s, wrapped()));
        open.put(key, read);
        return read;
    }

    /** The round key's running sums changed: written back at the next commit. */
    void changed(String roundKey) {
        dirty.add(roundKey);
    }

    /** The round key's round closed: its records are deleted at the next commit. */
    void clear(String roundKey) {
        open.remove(roundKey);
        dirty.add(roundKey);
    }

    /** Writes the changed rounds' sums to the store underneath (its changelog included). */
    @Override
    void writeBack() {
        for (String key : dirty) {
            RoundSums live = open.get(key);
            Map<String, RoundLayerSums> records = live == null || live.samples() == 0 ? Map.of()
                    : RoundStates.layerRecords(key, live.round, live.planVersion, live.toSums());
            // Layer records of the round key that the new ones do not replace (a closed round's) are deleted.
            Set<String> before = stored.get(key);
            if (before == null) {
                before = new HashSet<>();
                try (KeyValueIterator<String, RoundLayerSums> it = wrapped().prefixScan(RoundStates.layerPrefix(key),
                        new org.apache.kafka.common.serialization.StringSerializer())) {
                    while (it.hasNext()) {
                        before.add(it.next().key);
                    }
                }
            }
            for (String k : before) {
                if (!records.containsKey(k)) {
                    wrapped().delete(k);
                }
            }
            records.forEach(wrapped()::put);
            stored.put(key, new HashSet<>(records.keySet()));
        }
        dirty.clear();
    }

    @Override
    void dropMemory() {
        open.clear();
        dirty.clear();
        stored.clear();
    }
}
