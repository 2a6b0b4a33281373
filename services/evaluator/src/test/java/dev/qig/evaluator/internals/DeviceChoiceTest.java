package dev.qig.evaluator.internals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import dev.qig.evaluator.EvaluatorConfig.DeviceSetting;
import org.junit.jupiter.api.Test;

class DeviceChoiceTest {

    @Test
    void autoTakesTheFirstGpuWhenThereIsOne() {
        assertEquals(Device.gpu(0), DeviceChoice.choose(DeviceSetting.AUTO, 2));
        assertEquals(Device.cpu(), DeviceChoice.choose(DeviceSetting.AUTO, 0));
    }

    @Test
    void cpuIsKeptEvenWithAGpuAndGpuWithoutOneFails() {
        assertEquals(Device.cpu(), DeviceChoice.choose(DeviceSetting.CPU, 1));
        assertEquals(Device.gpu(0), DeviceChoice.choose(DeviceSetting.GPU, 1));
        assertThrows(IllegalStateException.class, () -> DeviceChoice.choose(DeviceSetting.GPU, 0));
    }
}
