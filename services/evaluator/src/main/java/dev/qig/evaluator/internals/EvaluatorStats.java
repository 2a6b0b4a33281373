package dev.qig.evaluator.internals;

import dev.qig.kafka.dlq.RejectReason;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Counters of one evaluator process. */
public final class EvaluatorStats {

    final AtomicLong consumed = new AtomicLong();
    final AtomicLong evaluated = new AtomicLong();
    final AtomicLong promoted = new AtomicLong();
    final AtomicLong refused = new AtomicLong();
    final AtomicLong evalNanos = new AtomicLong();
    final AtomicLong restarts = new AtomicLong();
    private final Map<RejectReason, AtomicLong> deadLettered = new ConcurrentHashMap<>();

    void deadLettered(RejectReason reason) {
        deadLettered.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
    }

    /** Config records read. */
    public long consumed() {
        return consumed.get();
    }

    /** Configs evaluated and reported (their EvalResults acknowledged). */
    public long evaluated() {
        return evaluated.get();
    }

    public long promoted() {
        return promoted.get();
    }

    /** Evaluated configs that were not promoted (the rule refused them, or they were already active or older). */
    public long refused() {
        return refused.get();
    }

    /** Seconds spent evaluating configs (active configs re-evaluated after a restart included). */
    public double evalSeconds() {
        return evalNanos.get() / 1e9;
    }

    /** Times the consumer was dropped after an error and rejoined (uncommitted configs come again). */
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
