package dev.qig.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A CPU service turns DJL's GPU-detection warnings off, unless the operator set that logger's level. */
class EngineSetupTest {

    private final String before = System.getProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL);

    @AfterEach
    void restore() {
        if (before == null) {
            System.clearProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL);
        } else {
            System.setProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL, before);
        }
    }

    @Test
    void gpuDetectionLogsOnlyErrorsOnACpuService() {
        System.clearProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL);
        EngineSetup.quietGpuDetection();
        assertEquals("error", System.getProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL));
    }

    @Test
    void anExplicitLevelWins() {
        System.setProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL, "debug");
        EngineSetup.quietGpuDetection();
        assertEquals("debug", System.getProperty(EngineSetup.GPU_DETECTION_LOG_LEVEL));
    }
}
