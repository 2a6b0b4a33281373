package dev.qig.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A gradient collector that is safe to open from any thread: DJL allows one open collector per JVM
 * (a second one throws), so every opening goes through one JVM-wide lock and waits its turn. Workers
 * that each own a model copy can then calibrate side by side; only their gradient passes take turns.
 * Close it on the thread that opened it (try-with-resources).
 */
public final class GradientRecording implements AutoCloseable {

    private static final ReentrantLock LOCK = new ReentrantLock(true);

    private final GradientCollector collector;

    private GradientRecording(GradientCollector collector) {
        this.collector = collector;
    }

    /** Waits for the JVM's gradient recorder, then opens a collector. */
    public static GradientRecording open() {
        LOCK.lock();
        try {
            return new GradientRecording(Engine.getInstance().newGradientCollector());
        } catch (RuntimeException | Error e) {
            LOCK.unlock();
            throw e;
        }
    }

    /** As {@link #open()}, giving up after the timeout. */
    public static GradientRecording open(long timeout, TimeUnit unit) throws InterruptedException {
        if (!LOCK.tryLock(timeout, unit)) {
            throw new IllegalStateException("the JVM's gradient recorder stayed busy for " + timeout + " " + unit);
        }
        try {
            return new GradientRecording(Engine.getInstance().newGradientCollector());
        } catch (RuntimeException | Error e) {
            LOCK.unlock();
            throw e;
        }
    }

    /**
     * Turns gradient recording off for the calling thread. PyTorch's grad mode is per thread and on
     * in every new thread; DJL turns it off only in the thread that loads the engine. Outside a
     * recording it must be off: in-place weight edits on parameters fail otherwise, and forward
     * passes would build graphs nobody uses. Engine entry points call this; cheap to repeat.
     */
    public static void offInThisThread() {
        if (Engine.getInstance() instanceof ai.djl.pytorch.engine.PtEngine && !LOCK.isHeldByCurrentThread()) {
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        }
    }

    public void backward(NDArray target) {
        collector.backward(target);
    }

    @Override
    public void close() {
        try {
            collector.close();
        } finally {
            LOCK.unlock();
        }
    }
}
