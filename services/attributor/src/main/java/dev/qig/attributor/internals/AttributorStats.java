package dev.qig.attributor.internals;

import dev.qig.kafka.dlq.RejectReason;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Counters of one attributor process, shared by its workers. */
public final class AttributorStats {

    final AtomicLong consumed = new AtomicLong();
    final AtomicLong layerStats = new AtomicLong();
    final AtomicLong batches = new AtomicLong();
    final AtomicLong engineNanos = new AtomicLong();
    final AtomicLong recomputedForNewPlan = new AtomicLong();
    final AtomicLong restarts = new AtomicLong();
    private final Map<RejectReason, AtomicLong> deadLettered = new ConcurrentHashMap<>();

    void deadLettered(RejectReason reason) {
        deadLettered.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
    }

    public long consumed() {
        return consumed.get();
    }

    /** LayerStats records written: one per sample, model and scheme. */
    public long attributed() {
        return layerStats.get();
    }

    public long batches() {
        return batches.get();
    }

    public double engineSeconds() {
        return engineNanos.get() / 1e9;
    }

    /** Batches computed again because a newer plan arrived while they were computed. */
    public long recomputedForNewPlan() {
        return recomputedForNewPlan.get();
    }

    /** Times a worker dropped its consumer after an error and rejoined the group (uncommitted records come again). */
    public long restarts() {
        return restarts.get();
    }

    public long deadLettered() {
        return deadLettered.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** Dead letters written, by reason id. */
    public Map<String, Long> deadLetteredByReason() {
        Map<String, Long> out = new TreeMap<>();
        deadLettered.forEach((r, n) -> out.put(r.id(), n.get()));
        return out;
    }
}
