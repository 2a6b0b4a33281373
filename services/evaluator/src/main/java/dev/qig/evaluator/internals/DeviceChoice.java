package dev.qig.evaluator.internals;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.qig.evaluator.EvaluatorConfig.DeviceSetting;

/** The device the evaluator runs on: the first GPU DJL finds unless told cpu; gpu without one is an error. */
public final class DeviceChoice {

    private DeviceChoice() {}

    public static Device choose(DeviceSetting setting) {
        return choose(setting, Engine.getInstance().getGpuCount());
    }

    static Device choose(DeviceSetting setting, int gpus) {
        return switch (setting) {
            case CPU -> Device.cpu();
            case AUTO -> gpus > 0 ? Device.gpu(0) : Device.cpu();
            case GPU -> {
                if (gpus == 0) {
                    throw new IllegalStateException("device=gpu, but the PyTorch engine finds no GPU (the CPU build of "
                            + "libtorch is on the classpath, or no CUDA driver): see docs/evaluator.md");
                }
                yield Device.gpu(0);
            }
        };
    }
}
