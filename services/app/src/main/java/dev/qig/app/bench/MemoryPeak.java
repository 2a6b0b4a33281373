package dev.qig.app.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The peak memory of this process while some work runs: resident set (split into anonymous memory,
 * which the process owns, and file pages it has mapped, such as memory-mapped safetensors, which
 * the kernel can drop) sampled every 20 ms from {@code /proc/self/status}, and the Java heap's peak
 * from the JVM's pool statistics. Linux only; elsewhere the resident figures read 0.
 */
final class MemoryPeak implements AutoCloseable {

    private static final Path STATUS = Path.of("/proc/self/status");

    private final Thread sampler;
    private volatile boolean running = true;
    private long peakRss;
    private long anonAtPeak;
    private long fileAtPeak;

    private MemoryPeak() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        sample();
        sampler = new Thread(() -> {
            while (running) {
                sample();
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "qig-memory-peak");
        sampler.setDaemon(true);
        sampler.start();
    }

    /** Starts measuring (and resets the heap pools' peaks). */
    static MemoryPeak start() {
        return new MemoryPeak();
    }

    private synchronized void sample() {
        long rss = 0;
        long anon = 0;
        long file = 0;
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("RssAnon:")) {
                    anon = kib(line);
                } else if (line.startsWith("RssFile:")) {
                    file = kib(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            return; // not Linux: resident figures stay 0
        }
        if (rss > peakRss) {
            peakRss = rss;
            anonAtPeak = anon;
            fileAtPeak = file;
        }
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }

    /** Sum of the heap pools' peaks since {@link #start()}. */
    private static long heapPeak() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** Stops sampling. */
    @Override
    public void close() {
        running = false;
        sampler.interrupt();
        sample();
    }

    /** e.g. "peak resident 7.2 GB (anonymous 4.8, mapped files 2.4), Java heap peak 0.9 GB". */
    synchronized String summary() {
        return String.format(Locale.ROOT, "peak resident %.1f GB (anonymous %.1f, mapped files %.1f), Java heap peak %.1f GB",
                peakRss / 1e9, anonAtPeak / 1e9, fileAtPeak / 1e9, heapPeak() / 1e9);
    }
}
