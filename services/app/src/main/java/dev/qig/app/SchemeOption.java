package dev.qig.app;

import dev.qig.core.quant.QuantScheme;
import picocli.CommandLine.Option;

/** The {@code --scheme} option of the commands that quantize. */
final class SchemeOption {

    @Option(names = "--scheme", description = "w3a16, w4a8, w4a16 or w8a8 (default: ${DEFAULT-VALUE}).")
    String name = "w3a16";

    QuantScheme scheme() {
        return QuantScheme.parse(name);
    }
}
