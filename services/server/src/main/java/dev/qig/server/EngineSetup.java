package dev.qig.server;

/**
 * libtorch thread defaults, set before DJL loads: a few intra-op threads and one inter-op thread.
 * More threads than cores make OpenMP spin-wait stalls of seconds on small machines
 * (OMP_WAIT_POLICY=PASSIVE, set by the launcher script, removes the spinning).
 */
public final class EngineSetup {

    private EngineSetup() {}

    public static void configureDefaults() {
        int cores = Runtime.getRuntime().availableProcessors();
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        System.setProperty("ai.djl.pytorch.num_threads",
                System.getProperty("ai.djl.pytorch.num_threads", String.valueOf(Math.max(1, Math.min(cores, 4)))));
        System.setProperty("ai.djl.pytorch.num_interop_threads",
                System.getProperty("ai.djl.pytorch.num_interop_threads", "1"));
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        // Kafka Streams logs a full stack trace at WARN for every record its deserialization handler
        // dead-letters; the aggregator's handler already logs one line with the reason.
        String deserializer = "org.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.RecordDeserializer";
        System.setProperty(deserializer, System.getProperty(deserializer, "error"));
    }

    /** The logger DJL's GPU detection warns on (e.g. "Failed to detect GPU count" with a CUDA driver too old). */
    static final String GPU_DETECTION_LOG_LEVEL = "org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils";

    /**
     * For a service that runs on the CPU whatever GPUs the machine has: DJL still probes CUDA when
     * its engine starts and warns when the probe fails, which reads as a fault of a service that
     * never asked for a GPU. Call before the engine loads; an explicit level wins.
     */
    static void quietGpuDetection() {
        System.setProperty(GPU_DETECTION_LOG_LEVEL, System.getProperty(GPU_DETECTION_LOG_LEVEL, "error"));
    }
}
