package dev.qig.app;

import dev.qig.quant.QuantScheme;
import picocli.CommandLine.Option;

/** The {@code --scheme} option of the commands that quantize. */
public final class SchemeOption {

    @Option(names = "--scheme", description = "w3a16, w4a8 (the paper's), w2a16, w4a4 (stress), w4a16, w8a8 (default: ${DEFAULT-VALUE}).")
    public String name;

    /** The option with the paper's W3A16 as its default. */
    public SchemeOption() {
        this("w3a16");
    }

    /** The option with another default, for a command that initializes its mixin field with it. */
    public SchemeOption(String defaultName) {
        this.name = defaultName;
    }

    public QuantScheme scheme() {
        return QuantScheme.parse(name);
    }
}
