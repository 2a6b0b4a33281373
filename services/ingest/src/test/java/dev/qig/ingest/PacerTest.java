package dev.qig.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PacerTest {

    private static final double RATE = 200; // 5 ms apart

    @Test
    void keepsTheRate() throws InterruptedException {
        Pacer pacer = new Pacer(RATE, new CountDownLatch(1));
        long start = System.nanoTime();
        for (int i = 0; i < 11; i++) {
            assertTrue(pacer.await());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds >= 10 / RATE - 0.001, "10 intervals in " + seconds + " s");
    }

    @Test
    void slotsFollowTheRateAndAStallEarnsOneSampleOfCredit() {
        Pacer pacer = new Pacer(RATE, new CountDownLatch(1));
        long ms = 1_000_000;
        long t0 = 1_000 * ms;
        assertEquals(t0, pacer.reserve(t0), "the first sample goes when ready");
        assertEquals(t0 + 5 * ms, pacer.reserve(t0), "then one interval apart");
        // Woken 1 ms late: the schedule holds, so lateness does not lower the rate.
        assertEquals(t0 + 10 * ms, pacer.reserve(t0 + 6 * ms));
        // A source that stalls for 100 ms: one sample goes at once, then the rate resumes.
        long late = t0 + 110 * ms;
        assertEquals(late, pacer.reserve(late));
        assertEquals(late, pacer.reserve(late));
        assertEquals(late + 5 * ms, pacer.reserve(late));
        assertEquals(late + 10 * ms, pacer.reserve(late + 5 * ms));
    }

    @Test
    void stopEndsAWait() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Pacer pacer = new Pacer(0.01, stop); // 100 s apart
        assertTrue(pacer.await());
        new Thread(stop::countDown).start();
        long start = System.nanoTime();
        assertFalse(pacer.await());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
    }

    @Test
    void refusesANonPositiveRate() {
        assertThrows(IllegalArgumentException.class, () -> new Pacer(0, new CountDownLatch(1)));
    }
}
