package dev.qig.app;

import dev.qig.quant.CalibrationSettings;
import dev.qig.quant.IgRule;
import picocli.CommandLine.Option;

/** The integrated-gradients options of the commands that calibrate: the rule and the number of points. */
public final class IgOptions {

    @Option(names = "--ig-rule", description = "Quadrature of QIG's integrated gradients: midpoint, or endpoints (the "
            + "method's; with --ig-steps 32 it reproduces the paper) (default: ${DEFAULT-VALUE}).")
    public String rule = "midpoint";

    @Option(names = "--ig-steps", description = "Points of QIG's integrated gradients (default: ${DEFAULT-VALUE}).")
    public int steps = 16;

    public CalibrationSettings.Builder apply(CalibrationSettings.Builder b) {
        return b.igRule(IgRule.parse(rule)).igSteps(steps);
    }
}
