package dev.qig.publisher.store;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;

/**
 * An input stream that sleeps as it is read so that its average rate, from its first read on,
 * stays under a cap in bytes per second: what keeps a publisher from saturating the disk or the
 * link that the services it shares a host with need.
 */
public final class ThrottledInputStream extends FilterInputStream {

    private final long bytesPerSecond;
    private long start = -1;
    private long bytes;

    private ThrottledInputStream(InputStream in, long bytesPerSecond) {
        super(in);
        this.bytesPerSecond = bytesPerSecond;
    }

    /** {@code in} read at most {@code bytesPerSecond} on average; {@code in} itself when the cap is 0 (unthrottled). */
    public static InputStream wrap(InputStream in, long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("a negative throttle: " + bytesPerSecond);
        }
        return bytesPerSecond == 0 ? in : new ThrottledInputStream(in, bytesPerSecond);
    }

    @Override
    public int read() throws IOException {
        startClock();
        int b = in.read();
        if (b >= 0) {
            pace(1);
        }
        return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        startClock();
        int n = in.read(buffer, offset, length);
        if (n > 0) {
            pace(n);
        }
        return n;
    }

    // FilterInputStream would skip in the source, unpaced.
    @Override
    public long skip(long n) throws IOException {
        byte[] buffer = new byte[(int) Math.min(Math.max(n, 0), 1 << 16)];
        long skipped = 0;
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    // A reset would let a reader re-read bytes the pace has counted once.
    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public void mark(int readLimit) {}

    @Override
    public void reset() throws IOException {
        throw new IOException("a throttled stream cannot be reset");
    }

    private void startClock() {
        if (start < 0) {
            start = System.nanoTime();
        }
    }

    private void pace(int n) throws IOException {
        bytes += n;
        // In double: bytes * 1e9 overflows a long past 9.2 GB.
        long due = (long) (bytes * 1e9 / bytesPerSecond);
        long ahead = due - (System.nanoTime() - start);
        if (ahead > 0) {
            try {
                Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while throttled");
            }
        }
    }
}
