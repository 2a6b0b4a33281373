package dev.qig.app;

import dev.qig.core.quant.CalibrationSettings;
import dev.qig.core.quant.IgRule;
import picocli.CommandLine.Option;

/** The integrated-gradients options of the commands that calibrate: the rule and the number of points. */
final class IgOptions {

    @Option(names = "--ig-rule", description = "Quadrature of QIG's integrated gradients: endpoints (the method's) or "
            + "midpoint (default: ${DEFAULT-VALUE}).")
    String rule = "endpoints";

    @Option(names = "--ig-steps", description = "Points of QIG's integrated gradients (default: ${DEFAULT-VALUE}).")
    int steps = 32;

    CalibrationSettings.Builder apply(CalibrationSettings.Builder b) {
        return b.igRule(IgRule.parse(rule)).igSteps(steps);
    }
}
