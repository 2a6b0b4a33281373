package dev.qig.app;

import dev.qig.quant.GptqOptions;
import picocli.CommandLine.Option;

/** The GPTQ options of the commands that calibrate (used by the gptq and qig-gptq methods). */
public final class GptqArgs {

    @Option(names = "--gptq-damp", description = "GPTQ damping, a fraction of mean(diag H) added to the diagonal "
            + "(default: ${DEFAULT-VALUE}, the reference's).")
    public double damp = GptqOptions.DEFAULT.damp();

    @Option(names = "--gptq-act-order", description = "GPTQ visits columns by descending diag(H) (the reference's "
            + "--act-order; such configs export only fake-quantized).")
    public boolean actOrder;

    public GptqOptions options() {
        return new GptqOptions(damp, actOrder);
    }
}
