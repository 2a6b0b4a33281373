package dev.qig.ingest;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Spaces sends to a rate: each call of {@link #await} returns one interval after the previous one
 * was due, so the average rate holds even though every wake-up is a little late. A stall (a slow
 * source, a slow broker) earns at most one sample of credit: the stream resumes at the rate
 * instead of bursting to catch up, as a live source would.
 */
final class Pacer {

    private final long intervalNanos;
    private final CountDownLatch stop;
    private long due;
    private boolean started;

    /** @param rate samples per second, above 0; {@code stop} counted down ends a wait early */
    Pacer(double rate, CountDownLatch stop) {
        if (!(rate > 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("rate must be a finite number above 0, was " + rate);
        }
        this.intervalNanos = Math.max(1L, Math.round(1e9 / rate));
        this.stop = stop;
    }

    /** Waits until the next send is due; false when stopped before (or while) waiting. */
    boolean await() throws InterruptedException {
        long now = System.nanoTime();
        long wait = reserve(now) - now;
        return !(wait > 0 ? stop.await(wait, TimeUnit.NANOSECONDS) : stop.getCount() == 0);
    }

    /**
     * Takes the next send slot for a sample ready at {@code now} (System.nanoTime) and returns when
     * that slot is due: one interval after the previous slot, or {@code now} when that has passed.
     */
    long reserve(long now) {
        if (!started) {
            // The first sample is due when it is ready, not when the pacer was built.
            started = true;
            due = now;
        }
        long slot = Math.max(due, now);
        // Late by less than an interval: stay on the schedule (wake-ups are always a little late);
        // later than that: restart it from now, keeping one sample of credit.
        due = Math.max(due, now - intervalNanos) + intervalNanos;
        return slot;
    }
}
